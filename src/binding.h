/*-------------------------------------------------------------------------
 *
 * binding.h
 *		The shop binding as the fulfilment sees it: which tables and columns
 *		hold the shop's products, carts, cart items, orders and order items,
 *		their types, the shop's status words, and the SQL generated from
 *		them.
 *
 * The active binding is the document in stripe_webhook.binding (bind_shop),
 * or the built-in tables' document when there is none.  Each backend keeps
 * one ShopBinding, built on first use: the document is checked against the
 * catalog with stripe_webhook.binding_problems(), every table and column is
 * resolved, and every statement of the fulfilment is generated with quoted
 * identifiers and prepared once.  A change of the binding, or of a bound
 * table (renamed, dropped, altered: a relcache invalidation), marks the cache
 * stale; the next ShopBindingAcquire() builds it again.
 *
 * Every handler calls ShopBindingAcquire() once, first: it takes a ROW SHARE
 * lock on stripe_webhook.binding for the rest of the transaction, so that a
 * bind_shop() (which locks it EXCLUSIVE) waits for deliveries in flight,
 * and a delivery never writes half through one binding and half through
 * another.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_BINDING_H
#define STRIPE_WEBHOOK_BINDING_H

#include "executor/spi.h"

/* The roles a bound table plays */
typedef enum ShopRole
{
	ROLE_PRODUCTS,
	ROLE_CARTS,
	ROLE_CART_ITEMS,
	ROLE_ORDERS,
	ROLE_ORDER_ITEMS,
	SHOP_NROLES
} ShopRole;

/* Every logical column of every role (names in binding.c's field table) */
typedef enum ShopField
{
	F_PRODUCT_ID,
	F_PRODUCT_PRICE,
	F_PRODUCT_STOCK,
	F_PRODUCT_CURRENCY,
	F_CART_ID,
	F_CART_USER,
	F_CART_LOCKED,
	F_CART_LOCKED_AT,
	F_CART_CREATED_AT,
	F_CART_CHECKOUT_SESSION,
	F_ITEM_CART,
	F_ITEM_PRODUCT,
	F_ITEM_QUANTITY,
	F_ORDER_ID,
	F_ORDER_USER,
	F_ORDER_STATUS,
	F_ORDER_CART,
	F_ORDER_CHECKOUT_SESSION,
	F_ORDER_PAYMENT_INTENT,
	F_ORDER_PAYMENT_STATUS,
	F_ORDER_CURRENCY,
	F_ORDER_AMOUNT_SUBTOTAL,
	F_ORDER_AMOUNT_TOTAL,
	F_ORDER_CUSTOMER_EMAIL,
	F_ORDER_SHIPPING_NAME,
	F_ORDER_SHIPPING_LINE1,
	F_ORDER_SHIPPING_LINE2,
	F_ORDER_SHIPPING_CITY,
	F_ORDER_SHIPPING_STATE,
	F_ORDER_SHIPPING_POSTAL_CODE,
	F_ORDER_SHIPPING_COUNTRY,
	F_ORDER_REVIEW_REASON,
	F_ORDER_CREATED_AT,
	F_ORDER_UPDATED_AT,
	F_ORDER_AMOUNT_REFUNDED,
	F_LINE_ORDER,
	F_LINE_PRODUCT,
	F_LINE_QUANTITY,
	F_LINE_UNIT_PRICE,
	F_LINE_SHORTFALL,
	F_LINE_STOCK_TAKEN,
	SHOP_NFIELDS
} ShopField;

/* How a bound column's type is handled */
typedef enum TypeClass
{
	TC_INT,						/* int2, int4, int8 */
	TC_UUID,
	TC_TEXT,					/* text, varchar, bpchar */
	TC_NUMERIC,					/* money in major units */
	TC_BOOL,
	TC_TIMESTAMP				/* timestamp, timestamptz */
} TypeClass;

/* One bound column */
typedef struct BoundColumn
{
	bool		bound;			/* mapped by the binding */
	char	   *column;			/* quoted column name */
	char	   *cast;			/* type name for casts, without typmod */
	TypeClass	tc;
	int64		max;			/* TC_INT: largest value of the type */
	bool		notnull;		/* the column is NOT NULL */
} BoundColumn;

/*
 * The order states and payment states, canonical names first.  These words
 * are the built-in tables' (the CHECK constraints of stripe_webhook.orders and
 * stripe_webhook.checkout_sessions), and the keys of a binding's
 * "status_values", which maps them to the shop's own words.
 */
typedef enum OrderState
{
	ORDER_PENDING,
	ORDER_CONFIRMED,
	ORDER_NEEDS_REVIEW,
	ORDER_CANCELLED,
	ORDER_REFUNDED,
	ORDER_OTHER,				/* a word the binding does not name (e.g.
								 * "shipped"): the shop's own state */
	N_ORDER_STATES = ORDER_OTHER
} OrderState;

typedef enum PaymentState
{
	PAYMENT_UNPAID,
	PAYMENT_PAID,
	PAYMENT_FAILED,
	N_PAYMENT_STATES
} PaymentState;

extern const char *const order_state_names[N_ORDER_STATES];
extern const char *const payment_state_names[N_PAYMENT_STATES];

/* The statements of the fulfilment, generated per binding (shop_sql.c) */
typedef enum ShopStmt
{
	STMT_LOCK_CART,
	STMT_CART_LINES,
	STMT_LOOKUP_ORDER,
	STMT_WRITE_ORDER,
	STMT_TAKE_LOCK,
	STMT_WRITE_LINES,
	STMT_MARK_SHORT,
	STMT_LOCK_ORDER,
	STMT_MARK_PAID,
	STMT_FLAG,
	STMT_RECORD,
	STMT_FIND_ACTIVE,
	STMT_CREATE_ACTIVE,
	STMT_LOCK_PRODUCTS,
	STMT_CANCEL,
	STMT_RESTORE,
	STMT_HOLD_OWNER,
	STMT_HOLD_LOCK,
	STMT_HOLD_CHECK,
	STMT_HOLD_WRITE,
	STMT_HOLD_SHOW,
	STMT_RELEASE_LOCK,
	STMT_RELEASE,
	STMT_PAYMENT_ORDER,
	STMT_REFUND_ORDER,
	STMT_RESTOCK,
	SHOP_NSTMTS
} ShopStmt;

/* A generated statement and its kept plan */
typedef struct ShopStatement
{
	char	   *sql;
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;			/* prepared on first use */
	bool		inserts_cart;	/* may insert into the carts table */
} ShopStatement;

typedef struct ShopBinding
{
	bool		builtin;		/* the built-in tables */
	int64		version;		/* stripe_webhook.binding.version, 0 if
								 * built-in */
	char	   *table[SHOP_NROLES]; /* quoted, schema-qualified */
	char	   *table_name[SHOP_NROLES];	/* for messages: schema.name */
	Oid			relid[SHOP_NROLES];
	BoundColumn field[SHOP_NFIELDS];
	char	   *constants[SHOP_NROLES]; /* ", col, col" and ", lit, lit" of
										 * "values": see ShopConstantColumns */
	char	   *constant_values[SHOP_NROLES];
	char	   *order_word[N_ORDER_STATES];
	char	   *payment_word[N_PAYMENT_STATES];
	char	   *currency;		/* the shop's currency, or NULL when
								 * products carry their own */
	char	   *cart_pkey;		/* name of the carts' primary key, or NULL */
	ShopStatement stmt[SHOP_NSTMTS];
} ShopBinding;

/* the active binding, built or checked; locks stripe_webhook.binding */
extern const ShopBinding *ShopBindingAcquire(void);

/* the kept plan of a statement of the active binding */
extern SPIPlanPtr ShopPlan(const ShopBinding *b, ShopStmt which);

/* run a statement of the active binding, insisting on an SPI_OK_* code */
extern void ShopRun(const ShopBinding *b, ShopStmt which, const Datum *values,
					const char *nulls, int expected);

/* the canonical state of a shop's status word (ORDER_OTHER if unknown) */
extern OrderState ShopOrderState(const ShopBinding *b, const char *word);

/* the canonical payment state of a name kept by the extension */
extern PaymentState PaymentStateFromName(const char *name);

/*
 * Check a metadata value against a key column's type and return its
 * canonical text form (what the column's output function prints), or NULL
 * when it does not fit: not a positive decimal within the integer type's
 * range, not a uuid.
 */
extern char *ShopKeyCanonical(const BoundColumn *col, const char *value);

/* Stripe's exponent of a currency: 0 (JPY ...), 3 (KWD ...) or 2 */
extern int	CurrencyExponent(const char *currency);

/* the logical name of a field ("products.price"), for messages */
extern const char *ShopFieldName(ShopField f);

/* SQL generation, once per binding (shop_sql.c, payments_sql.c) */
extern void ShopGenerateStatements(ShopBinding *b);
extern void GenPaymentStatements(ShopBinding *b);

#endif							/* STRIPE_WEBHOOK_BINDING_H */
