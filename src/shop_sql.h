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
 * order (no product lock: STMT_TAKE_LOCK takes them next).  Returns
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
 * STMT_WRITE_ORDER: the order with its state as far as the money decides
 * it, the extension's lines (each taking its whole quantity when the order
 * takes stock), the order's changes, the cart locked, the user's new active
 * cart and the session's record claimed, in one statement, before the
 * products are locked; STMT_MARK_SHORT corrects what a shortfall changes.
 * Returns order_id (text), new_cart (text or NULL), claimed (int8: 1 when
 * the session row was claimed for this order), change_ids (int8[]).
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
	WO_PRODUCTS,				/* text[], one per cart line */
	WO_QUANTITIES,				/* int8[] */
	WO_UNIT_AMOUNTS,			/* int8[], minor units */
	WO_TAKEN,					/* int8[]: units each line takes */
	WO_CHANGES,					/* text[]: order_changes rows, in order */
	WO_EVENT,					/* Stripe event id or NULL */
	WO_CONSUME,					/* bool: the order locks its cart */
	WO_CHARGED,					/* int8: amount_total in the charge's
								 * currency (differs from WO_TOTAL under
								 * Adaptive Pricing) */
	WO_NPARAMS
} WriteOrderParam;

/*
 * STMT_WRITE_LINES: after STMT_TAKE_LOCK, with what each line takes
 * decided: the order's items, the stock, the session's stock hold settled.
 * Returns settled (int8: the hold rows settled).
 */
typedef enum WriteLinesParam
{
	WL_ORDER,					/* text form of the order's id */
	WL_SESSION,
	WL_PRODUCTS,				/* text[], one per cart line */
	WL_QUANTITIES,				/* int8[] */
	WL_UNIT_AMOUNTS,			/* int8[], minor units */
	WL_LINE_CURRENCIES,			/* text[] */
	WL_TAKEN,					/* int8[]: units the line took (hold + stock) */
	WL_SHORTFALLS,				/* int8[]: units the line is short */
	WL_STOCK_PRODUCTS,			/* text[]: products whose stock changes */
	WL_STOCK_DELTAS,			/* int8[]: by how much (added) */
	WL_HOLD_PRODUCTS,			/* text[]: the session's held products */
	WL_HOLD_TAKEN,				/* int8[]: units the order takes of each */
	WL_NPARAMS
} WriteLinesParam;

/*
 * STMT_TAKE_LOCK: the products of the order and of the session's stock
 * hold, locked in ascending id order (the sort comes before the row locks),
 * which keeps concurrent fulfilments, holds and cancellations
 * deadlock-free.  Returns, per product in id order: product (text), stock
 * (int8) of the version just locked, held (int8: the session's held units,
 * 0 if none; stable, as every change to a user's holds takes the user's
 * lock, held here).
 */
typedef enum TakeLockParam
{
	TL_SESSION, TL_PRODUCTS, TL_NPARAMS
} TakeLockParam;

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

/*
 * STMT_MARK_SHORT: a new order found short of stock by STMT_TAKE_LOCK's
 * reading: its final status and reason (order, session's record, the
 * order's changes, one more change when it is new to review) and what its
 * lines took.
 */
typedef enum MarkShortParam
{
	MS_ORDER,
	MS_SESSION,
	MS_STATUS_WORD,				/* the shop's word for needs_review */
	MS_REASON,
	MS_PRODUCTS,				/* text[], one per cart line */
	MS_TAKEN,					/* int8[] */
	MS_SHORTFALLS,				/* int8[] */
	MS_CHANGE_IDS,				/* int8[]: STMT_WRITE_ORDER's changes */
	MS_ADD_REVIEW,				/* bool: add an order_needs_review change */
	MS_EVENT,					/* Stripe event id or NULL */
	MS_NPARAMS
} MarkShortParam;

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

/*
 * Stock holds (holds.c).  Every statement reads and writes
 * stripe_webhook.holds rows of the bound products and carts tables only.
 *
 * STMT_HOLD_OWNER: the cart's user (text), no lock; the user's lock comes
 * before the cart's.
 */
typedef enum HoldOwnerParam
{
	HO_CART, HO_NPARAMS
} HoldOwnerParam;

/*
 * STMT_HOLD_LOCK: the products the cart wants and those that other
 * sessions hold for the same cart, locked in id order.  STMT_HOLD_CHECK
 * (same parameters), next and without locks, reads them: product (text),
 * stock (int8, never below 0), wanted (int8), replaced (int8: held for the
 * cart by other sessions), in id order.
 */
typedef enum HoldLockParam
{
	HL_CART, HL_SESSION, HL_PRODUCTS, HL_QUANTITIES, HL_NPARAMS
} HoldLockParam;

/*
 * STMT_HOLD_WRITE: the other sessions' holds of the cart released
 * ("replaced"), the new hold inserted, each product's stock changed once by
 * the difference.  Returns held (int8: rows inserted), replaced (text[]:
 * the sessions whose holds were released).
 */
typedef enum HoldWriteParam
{
	HW_CART, HW_SESSION, HW_USER, HW_PRODUCTS, HW_QUANTITIES, HW_EXPIRES,
	HW_NPARAMS
} HoldWriteParam;

/* STMT_HOLD_SHOW: a session's hold rows (all states), in product id order */
typedef enum HoldShowParam
{
	HS_SESSION, HS_NPARAMS
} HoldShowParam;

/* STMT_RELEASE_LOCK: the products held by sessions, locked in id order */
typedef enum ReleaseLockParam
{
	RL_SESSIONS, RL_NPARAMS		/* text[] */
} ReleaseLockParam;

/*
 * STMT_RELEASE: what the sessions still hold goes back to stock; their
 * rows are released with a reason.  Returns sessions (int8), units (int8).
 */
typedef enum ReleaseParam
{
	RE_SESSIONS, RE_REASON, RE_NPARAMS
} ReleaseParam;

/*
 * STMT_PAYMENT_ORDER: the order of a payment intent in the bound orders
 * table, locked with its session's row.  Returns order_id (text), status
 * (the shop's word), payment (canonical), review_reason, session id,
 * amount_total (the session's, int8 or NULL).
 */
typedef enum PaymentOrderParam
{
	PO_PAYMENT_INTENT, PO_NPARAMS
} PaymentOrderParam;

/*
 * STMT_REFUND_ORDER: the refunded amount mirrored into the order (when
 * orders.amount_refunded is bound) and, unless RF_STATUS_WORD is NULL, the
 * order's new status with an 'order_refunded' change.
 */
typedef enum RefundOrderParam
{
	RF_ORDER, RF_SESSION, RF_STATUS_WORD, RF_AMOUNT, RF_CURRENCY, RF_EVENT,
	RF_NPARAMS
} RefundOrderParam;

/* STMT_RESTOCK: the stock the order holds goes back (no status change) */
typedef enum RestockParam
{
	RK_ORDER, RK_NPARAMS
} RestockParam;

#endif							/* STRIPE_WEBHOOK_SHOP_SQL_H */
