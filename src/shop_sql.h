/*-------------------------------------------------------------------------
 *
 * shop_sql.h
 *		The parameters of the statements generated from a shop binding
 *		(shop_sql.c), by name.
 *
 * Keys (cart, user, product and order ids) are passed as text in their
 * canonical form and cast to the bound column's type inside the statement;
 * money is passed in minor units (int8) and converted to the column's
 * representation there too.  Each statement's parameters are an enum: the
 * generator writes "$n" for a name and the caller fills values[name].
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SHOP_SQL_H
#define STRIPE_WEBHOOK_SHOP_SQL_H

/*
 * STMT_LOCK_CART: lock the cart row.  Returns same_user, owner (text),
 * locked, consumed_by (the session whose order consumed the cart, or NULL).
 */
typedef enum LockCartParam
{
	LC_CART, LC_USER, LC_NPARAMS
} LockCartParam;

/*
 * STMT_CART_LINES: the cart's lines summed per product, in product id
 * order (no product lock: STMT_TAKE_STOCK takes them last).  Returns
 * product (text), quantity (int8), unit_amount (int8, minor units),
 * currency, existing_order (text), recorded (outcome).
 */
typedef enum CartLinesParam
{
	CL_CART, CL_SESSION, CL_NPARAMS
} CartLinesParam;

/* STMT_LOOKUP_ORDER: the session's order id (text), if any */
typedef enum LookupOrderParam
{
	LO_SESSION, LO_NPARAMS
} LookupOrderParam;

/*
 * STMT_WRITE_ORDER: the order, its items (nothing taken yet), the cart
 * locked, the user's new active cart and the session's record, in one
 * statement.  Returns order_id (text), new_cart (text or NULL), claimed
 * (int8: 1 when the session row was claimed for this order).
 */
typedef enum WriteOrderParam
{
	WO_USER,
	WO_CART,
	WO_SESSION,
	WO_STATUS_WORD,
	WO_PAYMENT,					/* canonical payment state */
	WO_PAYMENT_WORD,			/* the shop's word for it */
	WO_CURRENCY,
	WO_SUBTOTAL,
	WO_TOTAL,
	WO_PAYMENT_INTENT,
	WO_EMAIL,
	WO_SHIP_NAME,
	WO_SHIP_LINE1,
	WO_SHIP_LINE2,
	WO_SHIP_CITY,
	WO_SHIP_STATE,
	WO_SHIP_POSTAL_CODE,
	WO_SHIP_COUNTRY,
	WO_REVIEW_REASON,
	WO_PRODUCTS,				/* text[] */
	WO_QUANTITIES,				/* int8[] */
	WO_UNIT_AMOUNTS,			/* int8[], minor units */
	WO_LINE_CURRENCIES,			/* text[] */
	WO_CONSUME,					/* bool: the order locks its cart */
	WO_NPARAMS
} WriteOrderParam;

/*
 * STMT_LOCK_STOCK: the products of a new order, locked in id order (the
 * sort comes before the row locks).  Returns product (text), stock (int8),
 * in id order.  Run as a statement of its own: the next statement's
 * snapshot then sees the locked rows as they are.
 */
typedef enum LockStockParam
{
	LS_PRODUCTS,				/* text[] */
	LS_NPARAMS
} LockStockParam;

/*
 * STMT_TAKE_STOCK: the last step of a new order, after STMT_LOCK_STOCK.
 * Takes what was decided from stock, records it on the order's lines; when
 * the stock step made the order need review, sets its status and reason;
 * adds the order's change notices with its final status.
 */
typedef enum TakeStockParam
{
	TS_ORDER,
	TS_SESSION,
	TS_PRODUCTS,				/* text[] */
	TS_QUANTITIES,				/* int8[] */
	TS_TAKEN,					/* int8[] */
	TS_SHORT,					/* bool: the stock step set the review */
	TS_STATUS_WORD,				/* the order's final status word */
	TS_REASON,					/* the final review reason, or NULL */
	TS_CHANGES,					/* text[]: the change notices to add */
	TS_EVENT,					/* Stripe event id or NULL */
	TS_NPARAMS
} TakeStockParam;

/*
 * STMT_LOCK_ORDER: the session's order, locked, with what the extension
 * keeps of it.  Returns order_id (text), status (the shop's word),
 * payment (canonical), review_reason, consumed_cart.
 */
typedef enum LockOrderParam
{
	LK_SESSION, LK_NPARAMS
} LockOrderParam;

/* STMT_MARK_PAID: payment succeeded; the status word is set unless NULL */
typedef enum MarkPaidParam
{
	MP_ORDER, MP_SESSION, MP_STATUS_WORD, MP_PAYMENT_WORD, MP_NPARAMS
} MarkPaidParam;

/* STMT_FLAG: needs review, with the whole new reason */
typedef enum FlagParam
{
	FL_ORDER, FL_SESSION, FL_REASON, FL_PAYMENT, FL_PAYMENT_WORD,
	FL_STATUS_WORD, FL_EVENT, FL_NPARAMS
} FlagParam;

/* STMT_RECORD: the session expired or its payment failed (first wins) */
typedef enum RecordParam
{
	RC_SESSION, RC_CART, RC_USER, RC_OUTCOME, RC_NPARAMS
} RecordParam;

/* STMT_FIND_ACTIVE / STMT_CREATE_ACTIVE: the user's active cart (text) */
typedef enum ActiveCartParam
{
	AC_USER, AC_NPARAMS
} ActiveCartParam;

/* STMT_LOCK_PRODUCTS: the order's products, locked in id order */
typedef enum LockProductsParam
{
	LP_ORDER, LP_NPARAMS
} LockProductsParam;

/* STMT_CANCEL: stock back, the order cancelled */
typedef enum CancelParam
{
	CA_ORDER, CA_SESSION, CA_PAYMENT, CA_PAYMENT_WORD, CA_STATUS_WORD,
	CA_EVENT, CA_NPARAMS
} CancelParam;

/* STMT_RESTORE: the order's lines merged into the active cart */
typedef enum RestoreParam
{
	RS_ORDER, RS_CART, RS_NPARAMS
} RestoreParam;

#endif							/* STRIPE_WEBHOOK_SHOP_SQL_H */
