/*-------------------------------------------------------------------------
 *
 * payments_sql.c
 *		The statements of refunds, disputes and restocking, generated per
 *		shop binding (called from ShopGenerateStatements, shop_sql.c).
 *
 * Only what touches the shop's tables is generated here: finding and
 * locking the order of a payment intent, mirroring the refunded amount and
 * the refunded status into it, and giving back its stock.  The figures
 * themselves live in the extension's own tables (payments.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "binding.h"
#include "shop_sql.h"
#include "shop_sql_int.h"

/*
 * GenPaymentOrder
 *		STMT_PAYMENT_ORDER: the order of a payment intent, through the
 *		extension's record of its session, locked as STMT_LOCK_ORDER locks
 *		it.  One session per payment intent; should two claim one, the
 *		lowest session id is taken, always the same one.
 */
static void
GenPaymentOrder(ShopBinding *b)
{
	Oid			types[PO_NPARAMS] = {TEXTOID};

	Keep(b, STMT_PAYMENT_ORDER,
		 psprintf("SELECT s.order_id, o.%s::text AS status, s.payment_status,"
				  "       s.review_reason, s.id, s.amount_total"
				  "  FROM stripe_webhook.checkout_sessions s"
				  "  JOIN %s o ON o.%s = CASE WHEN s.order_table = %s THEN s.order_id::%s END"
				  " WHERE s.payment_intent = %s AND s.order_table = %s"
				  " ORDER BY s.id LIMIT 1"
				  "   FOR NO KEY UPDATE OF o, s",
				  Col(b, F_ORDER_STATUS), b->table[ROLE_ORDERS], Col(b, F_ORDER_ID),
				  OrderTable(b), b->field[F_ORDER_ID].cast, P(PO_PAYMENT_INTENT),
				  OrderTable(b)),
		 PO_NPARAMS, types);
}

/*
 * GenRefundOrder
 *		STMT_REFUND_ORDER: the refunded amount into orders.amount_refunded
 *		(if bound, converted like every amount), and the refunded status
 *		with its change row when a status word is given.
 */
static void
GenRefundOrder(ShopBinding *b)
{
	Oid			types[RF_NPARAMS];
	StringInfoData s;

	for (int i = 0; i < RF_NPARAMS; i++)
		types[i] = TEXTOID;
	types[RF_AMOUNT] = INT8OID;

	initStringInfo(&s);
	appendStringInfo(&s,
					 "WITH s AS ("
					 "  UPDATE stripe_webhook.checkout_sessions SET updated_at = pg_catalog.now()"
					 "   WHERE id = %s AND %s IS NOT NULL"
					 "), g AS (%s)"
					 "UPDATE %s o SET %s = COALESCE(%s, o.%s)",
					 P(RF_SESSION), P(RF_STATUS_WORD),
					 OrderChangeInsert(b, P(RF_ORDER), "'order_refunded'", P(RF_STATUS_WORD),
									   P(RF_SESSION), P(RF_EVENT),
									   psprintf(" WHERE %s IS NOT NULL", P(RF_STATUS_WORD))),
					 b->table[ROLE_ORDERS], Col(b, F_ORDER_STATUS),
					 Key(b, F_ORDER_STATUS, RF_STATUS_WORD), Col(b, F_ORDER_STATUS));
	SetIfBound(&s, b, F_ORDER_AMOUNT_REFUNDED,
			   b->field[F_ORDER_AMOUNT_REFUNDED].bound ?
			   FromMinor(b, F_ORDER_AMOUNT_REFUNDED, P(RF_AMOUNT), P(RF_CURRENCY)) : NULL);
	AppendOrderWhere(&s, b, RF_ORDER);
	Keep(b, STMT_REFUND_ORDER, s.data, RF_NPARAMS, types);
}

/*
 * GenRestock
 *		STMT_RESTOCK: the cancellation's stock step alone; the order keeps
 *		its status.
 */
static void
GenRestock(ShopBinding *b)
{
	Oid			types[RK_NPARAMS] = {TEXTOID};
	StringInfoData s;

	initStringInfo(&s);
	AppendStockReturn(&s, b, RK_ORDER, true);
	appendStringInfoString(&s, ") SELECT 1");
	Keep(b, STMT_RESTOCK, s.data, RK_NPARAMS, types);
}

/*
 * GenPaymentStatements
 *		See binding.h.
 */
void
GenPaymentStatements(ShopBinding *b)
{
	GenPaymentOrder(b);
	GenRefundOrder(b);
	GenRestock(b);
}
