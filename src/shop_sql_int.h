/*-------------------------------------------------------------------------
 *
 * shop_sql_int.h
 *		The helpers the statement generators share (shop_sql.c for the
 *		Checkout Session events, payments_sql.c for refunds, disputes and
 *		restocking).  Not a contract: other modules use binding.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SHOP_SQL_INT_H
#define STRIPE_WEBHOOK_SHOP_SQL_INT_H

#include "lib/stringinfo.h"

#include "binding.h"

/* "$n" of a 0-based parameter name */
#define P(n) psprintf("$%d", (int) (n) + 1)

/* quoted column of a field (bound: binding_problems checked it) */
extern const char *Col(const ShopBinding *b, ShopField f);

/* a key parameter cast to the field's type: "$n::type" */
extern char *Key(const ShopBinding *b, ShopField f, int param);

/* minor units (int8) as the money of column f, in currency_sql's exponent */
extern char *FromMinor(const ShopBinding *b, ShopField f, const char *minor_sql,
					   const char *currency_sql);

/* the orders table's name as a literal: what the extension's rows name */
extern char *OrderTable(const ShopBinding *b);

/* store a generated statement with its parameter types */
extern void Keep(ShopBinding *b, ShopStmt which, const char *sql, int nargs,
				 const Oid *types);

/* ", col = value" for an optional field, or nothing */
extern void SetIfBound(StringInfo s, const ShopBinding *b, ShopField f,
					   const char *value);

/* ", col = $param::type" for an optional field, or nothing */
extern void SetKeyIfBound(StringInfo s, const ShopBinding *b, ShopField f, int param);

/*
 * "INSERT INTO stripe_webhook.order_changes ... SELECT ...": one change of
 * the order (order_sql: its id as text) per row of rest ("" for one row,
 * or " FROM ... WHERE ..."), with its status word and the session and
 * Stripe event that made it
 */
extern char *OrderChangeInsert(const ShopBinding *b, const char *order_sql,
							   const char *change_sql, const char *status_sql,
							   const char *session_sql, const char *event_sql,
							   const char *rest);

/*
 * The end of an UPDATE of the order "o" whose id is parameter order_param:
 * its updated_at, if bound, and the WHERE clause
 */
extern void AppendOrderWhere(StringInfo s, const ShopBinding *b, int order_param);

/*
 * "WITH r AS (...), z AS (..." : the order's stock back to its products and
 * its lines emptied, for the order id in parameter order_param; the last
 * CTE is left open for the caller to close with "), next AS (" or ")".
 * restock: count what goes back in order_lines.restocked (restock_order).
 */
extern void AppendStockReturn(StringInfo s, const ShopBinding *b, int order_param,
							  bool restock);

#endif							/* STRIPE_WEBHOOK_SHOP_SQL_INT_H */
