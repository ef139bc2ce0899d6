/*-------------------------------------------------------------------------
 *
 * shop_sql.c
 *		Generate the fulfilment's statements from a shop binding, once per
 *		binding (ShopGenerateStatements, called by binding.c).
 *
 * Every identifier comes from the catalog through quote_identifier() and
 * quote_qualified_identifier() (binding.c); every value is a parameter
 * ($n, named by the enums of shop_sql.h) or a literal made with
 * quote_literal_cstr().  Keys are cast from their canonical text to the
 * column's type; money is converted between minor units and the column's
 * representation (integer columns: minor units; numeric columns: major
 * units, by the currency's exponent as Stripe counts it).
 *
 * What the shop's tables do not hold, the extension keeps in its own tables,
 * keyed by the text form of the shop's ids and the name of the bound table
 * they belong to (ids of two shops bound one after the other may be equal):
 *	  stripe_webhook.checkout_sessions  one row per session: its order, whether
 *		 the order consumed (locked) its cart, the payment state, the review
 *		 reason, a recorded expiry or payment failure.  Its primary key and
 *		 the unique (order_table, order_id) are what make one session one
 *		 order, whatever constraints the shop's tables have;
 *	  stripe_webhook.order_lines  quantity, price, shortfall and stock taken
 *		 per order line, so that a cancellation gives back exactly what was
 *		 taken;
 *	  stripe_webhook.order_changes  one row per order state change that the
 *		 shop may act on (its trigger sends a NOTIFY);
 *	  stripe_webhook.holds  per session and product, the stock held for a
 *		 Checkout Session while it is open (holds.c), and how it was settled.
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

/* quoted column of a field (bound: binding_problems checked it) */
const char *
Col(const ShopBinding *b, ShopField f)
{
	if (!b->field[f].bound)
		elog(ERROR, "field %s is not bound", ShopFieldName(f));
	return b->field[f].column;
}

/* a key parameter cast to the field's type: "$n::type" */
char *
Key(const ShopBinding *b, ShopField f, int param)
{
	Col(b, f);
	return psprintf("%s::%s", P(param), b->field[f].cast);
}

/* pg_catalog.power(10, exponent of currency_sql), or its literal value */
static char *
MoneyFactor(const ShopBinding *b, const char *currency_sql)
{
	if (currency_sql == NULL)
	{
		int			exponent = CurrencyExponent(b->currency);
		StringInfoData s;

		initStringInfo(&s);
		appendStringInfoString(&s, "1");
		for (int i = 0; i < exponent; i++)
			appendStringInfoChar(&s, '0');
		appendStringInfoString(&s, "::numeric");
		return s.data;
	}
	return psprintf("pg_catalog.power(10::numeric, stripe_webhook.currency_exponent(%s))",
					currency_sql);
}

/* money of column f read as minor units (int8) */
static char *
ToMinor(const ShopBinding *b, ShopField f, const char *value_sql, const char *currency_sql)
{
	if (b->field[f].tc == TC_NUMERIC)
		return psprintf("pg_catalog.round(%s * %s)::int8", value_sql,
						MoneyFactor(b, currency_sql));
	return psprintf("%s::int8", value_sql);
}

/* minor units (int8) as the money of column f */
char *
FromMinor(const ShopBinding *b, ShopField f, const char *minor_sql, const char *currency_sql)
{
	if (b->field[f].tc == TC_NUMERIC)
		return psprintf("(%s::numeric / %s)::%s", minor_sql,
						MoneyFactor(b, currency_sql), b->field[f].cast);
	return psprintf("%s::%s", minor_sql, b->field[f].cast);
}

/* the SQL of a product's currency (lower-cased), or NULL for the shop's */
static char *
ProductCurrency(const ShopBinding *b, const char *alias)
{
	if (!b->field[F_PRODUCT_CURRENCY].bound)
		return NULL;
	return psprintf("pg_catalog.lower(%s.%s::text)", alias, Col(b, F_PRODUCT_CURRENCY));
}

/* the orders table's name as a literal: what the extension's rows name */
char *
OrderTable(const ShopBinding *b)
{
	return quote_literal_cstr(b->table[ROLE_ORDERS]);
}

/* store a generated statement with its parameter types */
void
Keep(ShopBinding *b, ShopStmt which, const char *sql, int nargs, const Oid *types)
{
	ShopStatement *st = &b->stmt[which];

	st->sql = pstrdup(sql);
	st->nargs = nargs;
	st->argtypes = palloc(Max(nargs, 1) * sizeof(Oid));
	memcpy(st->argtypes, types, nargs * sizeof(Oid));
	st->plan = NULL;
	st->inserts_cart = false;
}

/* ", col = value" for an optional field, or nothing */
void
SetIfBound(StringInfo s, const ShopBinding *b, ShopField f, const char *value)
{
	if (b->field[f].bound)
		appendStringInfo(s, ", %s = %s", b->field[f].column, value);
}

/* see shop_sql_int.h */
void
SetKeyIfBound(StringInfo s, const ShopBinding *b, ShopField f, int param)
{
	if (b->field[f].bound)
		SetIfBound(s, b, f, Key(b, f, param));
}

/* see shop_sql_int.h */
char *
OrderChangeInsert(const ShopBinding *b, const char *order_sql, const char *change_sql,
				  const char *status_sql, const char *session_sql, const char *event_sql,
				  const char *rest)
{
	return psprintf("INSERT INTO stripe_webhook.order_changes"
					"  (order_table, order_id, change, status, checkout_session_id, stripe_event_id)"
					" SELECT %s, %s, %s, %s, %s, %s%s",
					OrderTable(b), order_sql, change_sql, status_sql, session_sql, event_sql, rest);
}

/* see shop_sql_int.h */
void
AppendOrderWhere(StringInfo s, const ShopBinding *b, int order_param)
{
	SetIfBound(s, b, F_ORDER_UPDATED_AT, "pg_catalog.now()");
	appendStringInfo(s, " WHERE o.%s = %s", Col(b, F_ORDER_ID), Key(b, F_ORDER_ID, order_param));
}

/*
 * GenLockCart
 *		STMT_LOCK_CART.
 */
static void
GenLockCart(ShopBinding *b)
{
	Oid			types[LC_NPARAMS] = {TEXTOID, TEXTOID};
	char	   *sql;

	sql = psprintf("SELECT c.%s = %s AS same_user, c.%s::text AS owner, c.%s AS locked,"
				   "       (SELECT s.id FROM stripe_webhook.checkout_sessions s"
				   "         WHERE s.cart_table = %s AND s.cart_id = %s AND s.consumed_cart) AS consumed_by"
				   "  FROM %s c WHERE c.%s = %s FOR NO KEY UPDATE OF c",
				   Col(b, F_CART_USER), Key(b, F_CART_USER, LC_USER),
				   Col(b, F_CART_USER), Col(b, F_CART_LOCKED),
				   quote_literal_cstr(b->table[ROLE_CARTS]), P(LC_CART),
				   b->table[ROLE_CARTS], Col(b, F_CART_ID), Key(b, F_CART_ID, LC_CART));
	Keep(b, STMT_LOCK_CART, sql, LC_NPARAMS, types);
}

/*
 * GenCartLines
 *		STMT_CART_LINES.  No product is locked here: STMT_TAKE_LOCK locks
 *		them once the order's money has been checked, so that a product's
 *		row lock is held from there to commit only, however many carts
 *		hold it.
 */
static void
GenCartLines(ShopBinding *b)
{
	Oid			types[CL_NPARAMS] = {TEXTOID, TEXTOID};
	char	   *currency = ProductCurrency(b, "p");
	char	   *sql;

	sql = psprintf("WITH l AS ("
				   "  SELECT ci.%s AS product, pg_catalog.sum(ci.%s)::int8 AS quantity"
				   "    FROM %s ci WHERE ci.%s = %s"
				   "   GROUP BY ci.%s HAVING pg_catalog.sum(ci.%s) > 0)"
				   "SELECT p.%s::text AS product, l.quantity, %s AS unit_amount,"
				   "       %s AS currency,"
				   "       s.order_id AS existing_order, s.outcome AS recorded"
				   "  FROM %s p JOIN l ON p.%s = l.product"
				   "  LEFT JOIN stripe_webhook.checkout_sessions s ON s.id = %s"
				   " ORDER BY p.%s",
				   Col(b, F_ITEM_PRODUCT), Col(b, F_ITEM_QUANTITY),
				   b->table[ROLE_CART_ITEMS], Col(b, F_ITEM_CART), Key(b, F_ITEM_CART, CL_CART),
				   Col(b, F_ITEM_PRODUCT), Col(b, F_ITEM_QUANTITY),
				   Col(b, F_PRODUCT_ID),
				   ToMinor(b, F_PRODUCT_PRICE, psprintf("p.%s", Col(b, F_PRODUCT_PRICE)), currency),
				   currency ? currency : quote_literal_cstr(b->currency),
				   b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_ID), P(CL_SESSION),
				   Col(b, F_PRODUCT_ID));
	Keep(b, STMT_CART_LINES, sql, CL_NPARAMS, types);
}

/* the products table's name as a literal: what the holds rows name */
static char *
ProductTable(const ShopBinding *b)
{
	return quote_literal_cstr(b->table[ROLE_PRODUCTS]);
}

/*
 * The order's columns filled from parameters, by field.  Keys are cast;
 * money converted; timestamps are now().
 */
static const struct
{
	ShopField	field;
	int			param;			/* -1: now() */
}			order_columns[] =
{
	{F_ORDER_USER, WO_USER},
	{F_ORDER_STATUS, WO_STATUS_WORD},
	{F_ORDER_CART, WO_CART},
	{F_ORDER_CHECKOUT_SESSION, WO_SESSION},
	{F_ORDER_PAYMENT_INTENT, WO_PAYMENT_INTENT},
	{F_ORDER_PAYMENT_STATUS, WO_PAYMENT_WORD},
	{F_ORDER_CURRENCY, WO_CURRENCY},
	{F_ORDER_AMOUNT_SUBTOTAL, WO_SUBTOTAL},
	{F_ORDER_AMOUNT_TOTAL, WO_TOTAL},
	{F_ORDER_CUSTOMER_EMAIL, WO_EMAIL},
	{F_ORDER_SHIPPING_NAME, WO_SHIP_NAME},
	{F_ORDER_SHIPPING_LINE1, WO_SHIP_LINE1},
	{F_ORDER_SHIPPING_LINE2, WO_SHIP_LINE2},
	{F_ORDER_SHIPPING_CITY, WO_SHIP_CITY},
	{F_ORDER_SHIPPING_STATE, WO_SHIP_STATE},
	{F_ORDER_SHIPPING_POSTAL_CODE, WO_SHIP_POSTAL_CODE},
	{F_ORDER_SHIPPING_COUNTRY, WO_SHIP_COUNTRY},
	{F_ORDER_REVIEW_REASON, WO_REVIEW_REASON},
	{F_ORDER_CREATED_AT, -1},
	{F_ORDER_UPDATED_AT, -1},
	{F_ORDER_AMOUNT_REFUNDED, -2},
};

/*
 * GenWriteOrder
 *		STMT_WRITE_ORDER: the order (its state as far as the money decides
 *		it), the extension's lines, the order's changes, the cart locked,
 *		the user's new active cart and the session's record claimed, in one
 *		statement, before any product is locked (see shop_sql.h).  The
 *		user's new active cart is created only when the order consumes its
 *		cart and the user has no other active cart; the per-user lock taken
 *		before (fulfil.c) makes that check safe without a unique index on the
 *		shop's carts.
 */
static void
GenWriteOrder(ShopBinding *b)
{
	Oid			types[WO_NPARAMS];
	StringInfoData cols;
	StringInfoData vals;
	StringInfoData sql;

	for (int i = 0; i < WO_NPARAMS; i++)
		types[i] = TEXTOID;
	types[WO_SUBTOTAL] = types[WO_TOTAL] = types[WO_CHARGED] = INT8OID;
	types[WO_PRODUCTS] = types[WO_CHANGES] = TEXTARRAYOID;
	types[WO_QUANTITIES] = types[WO_UNIT_AMOUNTS] = types[WO_TAKEN] = INT8ARRAYOID;
	types[WO_CONSUME] = BOOLOID;

	/* the order: mapped columns, then the binding's constants */
	initStringInfo(&cols);
	initStringInfo(&vals);
	for (int i = 0; i < lengthof(order_columns); i++)
	{
		ShopField	f = order_columns[i].field;
		int			param = order_columns[i].param;
		const char *value;

		if (!b->field[f].bound)
			continue;
		if (param == -2)
			value = FromMinor(b, f, "0", P(WO_CURRENCY));
		else if (param < 0)
			value = "pg_catalog.now()";
		else if (f == F_ORDER_AMOUNT_SUBTOTAL || f == F_ORDER_AMOUNT_TOTAL)
			value = FromMinor(b, f, P(param), P(WO_CURRENCY));
		else if (b->field[f].tc == TC_TEXT && b->field[f].notnull)
		{
			/*
			 * An optional text (email, shipping, ...) into a NOT NULL column,
			 * as Django's CharField(blank=True) makes it: empty, not NULL
			 */
			value = psprintf("COALESCE(%s, '')", Key(b, f, param));
		}
		else
			value = Key(b, f, param);
		appendStringInfo(&cols, "%s%s", cols.len > 0 ? ", " : "", b->field[f].column);
		appendStringInfo(&vals, "%s%s", vals.len > 0 ? ", " : "", value);
	}

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH o AS ("
					 "  INSERT INTO %s (%s%s) VALUES (%s%s)"
					 "  RETURNING %s::text AS id_text",
					 b->table[ROLE_ORDERS], cols.data, b->constants[ROLE_ORDERS],
					 vals.data, b->constant_values[ROLE_ORDERS], Col(b, F_ORDER_ID));

	/* what the extension keeps of each line; the order's changes */
	appendStringInfo(&sql,
					 "), x AS ("
					 "  INSERT INTO stripe_webhook.order_lines"
					 "    (order_table, order_id, product_id, quantity, unit_amount, stock_taken)"
					 "  SELECT %s, o.id_text, u.product, u.quantity, u.unit_amount, u.taken"
					 "    FROM o, ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s),"
					 "      pg_catalog.unnest(%s), pg_catalog.unnest(%s))"
					 "      AS u(product, quantity, unit_amount, taken)"
					 "), g AS (%s RETURNING id",
					 OrderTable(b), P(WO_PRODUCTS), P(WO_QUANTITIES), P(WO_UNIT_AMOUNTS), P(WO_TAKEN),
					 OrderChangeInsert(b, "o.id_text", "c.change", P(WO_STATUS_WORD), P(WO_SESSION),
									   P(WO_EVENT),
									   psprintf(" FROM o, pg_catalog.unnest(%s) WITH ORDINALITY AS c(change, n)"
												" ORDER BY c.n", P(WO_CHANGES))));

	/* the cart, consumed; the user's new active cart */
	appendStringInfo(&sql,
					 "), c AS ("
					 "  UPDATE %s c SET %s = true",
					 b->table[ROLE_CARTS], Col(b, F_CART_LOCKED));
	SetIfBound(&sql, b, F_CART_LOCKED_AT,
			   b->field[F_CART_LOCKED_AT].bound ?
			   psprintf("COALESCE(c.%s, pg_catalog.now())", Col(b, F_CART_LOCKED_AT)) : NULL);
	SetKeyIfBound(&sql, b, F_CART_CHECKOUT_SESSION, WO_SESSION);
	appendStringInfo(&sql,
					 "    FROM o WHERE c.%s = %s AND %s RETURNING c.%s"
					 "), n AS ("
					 "  INSERT INTO %s (%s, %s%s%s)"
					 "  SELECT %s, false%s%s FROM c"
					 "   WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.%s = %s AND NOT a.%s AND a.%s <> %s)"
					 "  RETURNING %s::text AS id",
					 Col(b, F_CART_ID), Key(b, F_CART_ID, WO_CART), P(WO_CONSUME), Col(b, F_CART_ID),
					 b->table[ROLE_CARTS], Col(b, F_CART_USER), Col(b, F_CART_LOCKED),
					 b->field[F_CART_CREATED_AT].bound ? psprintf(", %s", Col(b, F_CART_CREATED_AT)) : "",
					 b->constants[ROLE_CARTS],
					 Key(b, F_CART_USER, WO_USER),
					 b->field[F_CART_CREATED_AT].bound ? ", pg_catalog.now()" : "",
					 b->constant_values[ROLE_CARTS],
					 b->table[ROLE_CARTS], Col(b, F_CART_USER), Key(b, F_CART_USER, WO_USER),
					 Col(b, F_CART_LOCKED), Col(b, F_CART_ID), Key(b, F_CART_ID, WO_CART),
					 Col(b, F_CART_ID));

	/* the session's record, claimed once */
	appendStringInfo(&sql,
					 "), k AS ("
					 "  INSERT INTO stripe_webhook.checkout_sessions AS s"
					 "    (id, cart_table, cart_id, user_id, order_table, order_id, consumed_cart,"
					 "     payment_status, review_reason, payment_intent, amount_total)"
					 "  SELECT %s, %s, %s, %s, %s, o.id_text, %s, %s, %s, %s, %s FROM o"
					 "  ON CONFLICT (id) DO UPDATE"
					 "    SET order_table = excluded.order_table, order_id = excluded.order_id,"
					 "        consumed_cart = excluded.consumed_cart,"
					 "        payment_status = excluded.payment_status,"
					 "        review_reason = excluded.review_reason,"
					 "        payment_intent = excluded.payment_intent,"
					 "        amount_total = excluded.amount_total, updated_at = pg_catalog.now()"
					 "    WHERE s.order_id IS NULL"
					 "  RETURNING 1"
					 ")"
					 "SELECT o.id_text, (SELECT n.id FROM n) AS new_cart,"
					 "       (SELECT pg_catalog.count(*) FROM k) AS claimed,"
					 "       (SELECT pg_catalog.array_agg(g.id ORDER BY g.id) FROM g) AS change_ids"
					 "  FROM o",
					 P(WO_SESSION), quote_literal_cstr(b->table[ROLE_CARTS]), P(WO_CART), P(WO_USER),
					 OrderTable(b), P(WO_CONSUME), P(WO_PAYMENT), P(WO_REVIEW_REASON),
					 P(WO_PAYMENT_INTENT), P(WO_CHARGED));
	Keep(b, STMT_WRITE_ORDER, sql.data, WO_NPARAMS, types);
	b->stmt[STMT_WRITE_ORDER].inserts_cart = true;
}

/*
 * GenWriteLines
 *		STMT_WRITE_LINES: what the order's lines take, written once decided
 *		(fulfil_completed.c, on the products STMT_TAKE_LOCK locked): the order's items
 *		with what each took, the stock, and the session's hold settled; as
 *		little as can be, since the products stay locked to commit.  The hold is
 *		settled only where it is still 'held'; the statement returns how
 *		many rows it settled, so that fulfil_completed.c can check that none changed
 *		since it read them.  Nothing here waits: the rows it changes are
 *		locked or new.
 */
static void
GenWriteLines(ShopBinding *b)
{
	Oid			types[WL_NPARAMS];
	StringInfoData sql;
	char	   *line_currency = b->field[F_PRODUCT_CURRENCY].bound ? "u.currency" : NULL;

	for (int i = 0; i < WL_NPARAMS; i++)
		types[i] = TEXTOID;
	types[WL_PRODUCTS] = types[WL_LINE_CURRENCIES] = TEXTARRAYOID;
	types[WL_STOCK_PRODUCTS] = types[WL_HOLD_PRODUCTS] = TEXTARRAYOID;
	types[WL_QUANTITIES] = types[WL_UNIT_AMOUNTS] = INT8ARRAYOID;
	types[WL_TAKEN] = types[WL_SHORTFALLS] = INT8ARRAYOID;
	types[WL_STOCK_DELTAS] = types[WL_HOLD_TAKEN] = INT8ARRAYOID;

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH u AS ("
					 "  SELECT * FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s),"
					 "    pg_catalog.unnest(%s), pg_catalog.unnest(%s), pg_catalog.unnest(%s),"
					 "    pg_catalog.unnest(%s))"
					 "    AS u(product, quantity, unit_amount, currency, taken, shortfall)",
					 P(WL_PRODUCTS), P(WL_QUANTITIES), P(WL_UNIT_AMOUNTS),
					 P(WL_LINE_CURRENCIES), P(WL_TAKEN), P(WL_SHORTFALLS));

	/* the order's items */
	appendStringInfo(&sql,
					 "), i AS ("
					 "  INSERT INTO %s (%s, %s, %s, %s",
					 b->table[ROLE_ORDER_ITEMS], Col(b, F_LINE_ORDER), Col(b, F_LINE_PRODUCT),
					 Col(b, F_LINE_QUANTITY), Col(b, F_LINE_UNIT_PRICE));
	if (b->field[F_LINE_SHORTFALL].bound)
		appendStringInfo(&sql, ", %s", Col(b, F_LINE_SHORTFALL));
	if (b->field[F_LINE_STOCK_TAKEN].bound)
		appendStringInfo(&sql, ", %s", Col(b, F_LINE_STOCK_TAKEN));
	appendStringInfo(&sql, "%s) SELECT %s, u.product::%s, u.quantity::%s, %s",
					 b->constants[ROLE_ORDER_ITEMS], Key(b, F_LINE_ORDER, WL_ORDER),
					 b->field[F_LINE_PRODUCT].cast, b->field[F_LINE_QUANTITY].cast,
					 FromMinor(b, F_LINE_UNIT_PRICE, "u.unit_amount", line_currency));
	if (b->field[F_LINE_SHORTFALL].bound)
		appendStringInfo(&sql, ", u.shortfall::%s", b->field[F_LINE_SHORTFALL].cast);
	if (b->field[F_LINE_STOCK_TAKEN].bound)
		appendStringInfo(&sql, ", u.taken::%s", b->field[F_LINE_STOCK_TAKEN].cast);
	appendStringInfo(&sql, "%s FROM u", b->constant_values[ROLE_ORDER_ITEMS]);

	/* the stock, on rows STMT_TAKE_LOCK locked; the hold, settled */
	appendStringInfo(&sql,
					 "), st AS ("
					 "  UPDATE %s p SET %s = p.%s + d.delta"
					 "    FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s)) AS d(product, delta)"
					 "   WHERE p.%s = d.product::%s"
					 "), hs AS ("
					 "  UPDATE stripe_webhook.holds h"
					 "     SET status = CASE WHEN t.from_hold > 0 THEN 'ordered' ELSE 'released' END,"
					 "         returned = h.quantity - t.from_hold,"
					 "         release_reason = CASE WHEN t.from_hold > 0 THEN NULL ELSE 'not_ordered' END,"
					 "         order_table = CASE WHEN t.from_hold > 0 THEN %s END,"
					 "         order_id = CASE WHEN t.from_hold > 0 THEN %s END,"
					 "         settled_at = pg_catalog.now()"
					 "    FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s)) AS t(product, from_hold)"
					 "   WHERE h.checkout_session_id = %s AND h.product_table = %s"
					 "     AND h.product_id = t.product AND h.status = 'held'"
					 "  RETURNING 1"
					 ")"
					 "SELECT pg_catalog.count(*) AS settled FROM hs",
					 b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_STOCK), Col(b, F_PRODUCT_STOCK),
					 P(WL_STOCK_PRODUCTS), P(WL_STOCK_DELTAS),
					 Col(b, F_PRODUCT_ID), b->field[F_PRODUCT_ID].cast,
					 OrderTable(b), P(WL_ORDER), P(WL_HOLD_PRODUCTS), P(WL_HOLD_TAKEN),
					 P(WL_SESSION), ProductTable(b));
	Keep(b, STMT_WRITE_LINES, sql.data, WL_NPARAMS, types);
}

/*
 * GenTakeLock
 *		STMT_TAKE_LOCK (see shop_sql.h).  The stock it returns is that of the
 *		row version it locked (after waiting, the latest one), so what
 *		fulfil_completed.c decides from it holds until commit.
 */
static void
GenTakeLock(ShopBinding *b)
{
	Oid			types[TL_NPARAMS] = {TEXTOID, TEXTARRAYOID};

	Keep(b, STMT_TAKE_LOCK,
		 psprintf("SELECT p.%s::text AS product, p.%s::int8 AS stock, COALESCE(h.quantity, 0)::int8 AS held"
				  "  FROM %s p"
				  "  LEFT JOIN stripe_webhook.holds h"
				  "    ON h.checkout_session_id = %s AND h.product_table = %s AND h.status = 'held'"
				  "   AND h.product_id = p.%s::text"
				  " WHERE p.%s IN (SELECT w.product::%s FROM pg_catalog.unnest(%s) AS w(product)"
				  "                UNION"
				  "                SELECT h.product_id::%s FROM stripe_webhook.holds h"
				  "                 WHERE h.checkout_session_id = %s AND h.product_table = %s"
				  "                   AND h.status = 'held')"
				  " ORDER BY p.%s FOR NO KEY UPDATE OF p",
				  Col(b, F_PRODUCT_ID), Col(b, F_PRODUCT_STOCK), b->table[ROLE_PRODUCTS],
				  P(TL_SESSION), ProductTable(b), Col(b, F_PRODUCT_ID),
				  Col(b, F_PRODUCT_ID), b->field[F_PRODUCT_ID].cast, P(TL_PRODUCTS),
				  b->field[F_PRODUCT_ID].cast, P(TL_SESSION), ProductTable(b), Col(b, F_PRODUCT_ID)),
		 TL_NPARAMS, types);
}

/*
 * AppendStockReturn
 *		See shop_sql_int.h: the stock an order's lines hold goes back to the
 *		products, and the lines (the extension's and, when bound, the shop's
 *		order items' stock_taken) then hold nothing.
 */
void
AppendStockReturn(StringInfo s, const ShopBinding *b, int order_param, bool restock)
{
	appendStringInfo(s,
					 "WITH r AS ("
					 "  UPDATE %s p SET %s = p.%s + l.stock_taken"
					 "    FROM stripe_webhook.order_lines l"
					 "   WHERE l.order_table = %s AND l.order_id = %s"
					 "     AND p.%s = l.product_id::%s AND l.stock_taken > 0"
					 "), z AS ("
					 "  UPDATE stripe_webhook.order_lines SET stock_taken = 0%s"
					 "   WHERE order_table = %s AND order_id = %s AND stock_taken > 0",
					 b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_STOCK), Col(b, F_PRODUCT_STOCK),
					 OrderTable(b), P(order_param), Col(b, F_PRODUCT_ID), b->field[F_PRODUCT_ID].cast,
					 restock ? ", restocked = restocked + stock_taken" : "",
					 OrderTable(b), P(order_param));
	if (b->field[F_LINE_STOCK_TAKEN].bound)
		appendStringInfo(s,
						 "), zi AS ("
						 "  UPDATE %s SET %s = 0 WHERE %s = %s AND %s > 0",
						 b->table[ROLE_ORDER_ITEMS], Col(b, F_LINE_STOCK_TAKEN),
						 Col(b, F_LINE_ORDER), Key(b, F_LINE_ORDER, order_param),
						 Col(b, F_LINE_STOCK_TAKEN));
}

/*
 * GenOrderStatements
 *		The statements of the other events: find and lock the session's
 *		order, mark it paid, flag it, record an outcome, cancel it.
 */
static void
GenOrderStatements(ShopBinding *b)
{
	Oid			text1[1] = {TEXTOID};
	Oid			mark_types[MP_NPARAMS] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			flag_types[FL_NPARAMS];
	Oid			short_types[MS_NPARAMS];
	Oid			record_types[RC_NPARAMS] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Oid			cancel_types[CA_NPARAMS];
	StringInfoData s;

	for (int i = 0; i < FL_NPARAMS; i++)
		flag_types[i] = TEXTOID;
	for (int i = 0; i < CA_NPARAMS; i++)
		cancel_types[i] = TEXTOID;

	Keep(b, STMT_LOOKUP_ORDER,
		 psprintf("SELECT s.order_id FROM stripe_webhook.checkout_sessions s"
				  " WHERE s.id = %s AND s.order_id IS NOT NULL", P(LO_SESSION)),
		 LO_NPARAMS, text1);

	Keep(b, STMT_LOCK_ORDER,
		 psprintf("SELECT s.order_id, o.%s::text AS status, s.payment_status,"
				  "       s.review_reason, s.consumed_cart"
				  "  FROM stripe_webhook.checkout_sessions s"
				  "  JOIN %s o ON o.%s = CASE WHEN s.order_table = %s THEN s.order_id::%s END"
				  " WHERE s.id = %s"
				  "   FOR NO KEY UPDATE OF o, s",
				  Col(b, F_ORDER_STATUS), b->table[ROLE_ORDERS], Col(b, F_ORDER_ID),
				  OrderTable(b), b->field[F_ORDER_ID].cast, P(LK_SESSION)),
		 LK_NPARAMS, text1);

	/* paid: the session's record, then the shop's order */
	initStringInfo(&s);
	appendStringInfo(&s,
					 "WITH s AS (UPDATE stripe_webhook.checkout_sessions"
					 "   SET payment_status = 'paid', updated_at = pg_catalog.now() WHERE id = %s)"
					 "UPDATE %s o SET %s = COALESCE(%s, o.%s)",
					 P(MP_SESSION), b->table[ROLE_ORDERS], Col(b, F_ORDER_STATUS),
					 Key(b, F_ORDER_STATUS, MP_STATUS_WORD), Col(b, F_ORDER_STATUS));
	SetKeyIfBound(&s, b, F_ORDER_PAYMENT_STATUS, MP_PAYMENT_WORD);
	AppendOrderWhere(&s, b, MP_ORDER);
	Keep(b, STMT_MARK_PAID, s.data, MP_NPARAMS, mark_types);

	/* needs review */
	initStringInfo(&s);
	appendStringInfo(&s,
					 "WITH s AS (UPDATE stripe_webhook.checkout_sessions"
					 "   SET payment_status = %s, review_reason = %s, updated_at = pg_catalog.now()"
					 " WHERE id = %s"
					 "), g AS (%s)"
					 "UPDATE %s o SET %s = %s",
					 P(FL_PAYMENT), P(FL_REASON), P(FL_SESSION),
					 OrderChangeInsert(b, P(FL_ORDER), "'order_needs_review'", P(FL_STATUS_WORD),
									   P(FL_SESSION), P(FL_EVENT), ""),
					 b->table[ROLE_ORDERS], Col(b, F_ORDER_STATUS),
					 Key(b, F_ORDER_STATUS, FL_STATUS_WORD));
	SetKeyIfBound(&s, b, F_ORDER_PAYMENT_STATUS, FL_PAYMENT_WORD);
	SetKeyIfBound(&s, b, F_ORDER_REVIEW_REASON, FL_REASON);
	AppendOrderWhere(&s, b, FL_ORDER);
	Keep(b, STMT_FLAG, s.data, FL_NPARAMS, flag_types);

	/* a new order whose stock is short: what STMT_WRITE_ORDER assumed */
	for (int i = 0; i < MS_NPARAMS; i++)
		short_types[i] = TEXTOID;
	short_types[MS_PRODUCTS] = TEXTARRAYOID;
	short_types[MS_TAKEN] = short_types[MS_SHORTFALLS] = short_types[MS_CHANGE_IDS] = INT8ARRAYOID;
	short_types[MS_ADD_REVIEW] = BOOLOID;
	initStringInfo(&s);
	appendStringInfo(&s,
					 "WITH s AS (UPDATE stripe_webhook.checkout_sessions"
					 "   SET review_reason = %s, updated_at = pg_catalog.now() WHERE id = %s"
					 "), l AS (UPDATE stripe_webhook.order_lines l"
					 "   SET stock_taken = u.taken, shortfall = u.shortfall"
					 "  FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s), pg_catalog.unnest(%s))"
					 "    AS u(product, taken, shortfall)"
					 " WHERE l.order_table = %s AND l.order_id = %s AND l.product_id = u.product"
					 "), c AS (UPDATE stripe_webhook.order_changes SET status = %s WHERE id = ANY (%s)"
					 "), g AS (%s)"
					 "UPDATE %s o SET %s = %s",
					 P(MS_REASON), P(MS_SESSION),
					 P(MS_PRODUCTS), P(MS_TAKEN), P(MS_SHORTFALLS), OrderTable(b), P(MS_ORDER),
					 P(MS_STATUS_WORD), P(MS_CHANGE_IDS),
					 OrderChangeInsert(b, P(MS_ORDER), "'order_needs_review'", P(MS_STATUS_WORD),
									   P(MS_SESSION), P(MS_EVENT), psprintf(" WHERE %s", P(MS_ADD_REVIEW))),
					 b->table[ROLE_ORDERS], Col(b, F_ORDER_STATUS), Key(b, F_ORDER_STATUS, MS_STATUS_WORD));
	SetKeyIfBound(&s, b, F_ORDER_REVIEW_REASON, MS_REASON);
	AppendOrderWhere(&s, b, MS_ORDER);
	Keep(b, STMT_MARK_SHORT, s.data, MS_NPARAMS, short_types);

	/* an expiry or payment failure, first one wins */
	Keep(b, STMT_RECORD,
		 psprintf("INSERT INTO stripe_webhook.checkout_sessions AS s"
				  "    (id, cart_table, cart_id, user_id, outcome)"
				  " VALUES (%s, %s, %s, %s, %s)"
				  " ON CONFLICT (id) DO UPDATE"
				  "   SET outcome = excluded.outcome, updated_at = pg_catalog.now()"
				  " WHERE s.outcome IS NULL",
				  P(RC_SESSION), quote_literal_cstr(b->table[ROLE_CARTS]), P(RC_CART),
				  P(RC_USER), P(RC_OUTCOME)),
		 RC_NPARAMS, record_types);

	/*
	 * Cancel: the stock the order holds goes back, its lines then hold
	 * nothing.
	 */
	initStringInfo(&s);
	AppendStockReturn(&s, b, CA_ORDER, false);
	appendStringInfo(&s,
					 "), s AS ("
					 "  UPDATE stripe_webhook.checkout_sessions"
					 "     SET payment_status = %s, updated_at = pg_catalog.now() WHERE id = %s"
					 "), g AS (%s)"
					 "UPDATE %s o SET %s = %s",
					 P(CA_PAYMENT), P(CA_SESSION),
					 OrderChangeInsert(b, P(CA_ORDER), "'order_cancelled'", P(CA_STATUS_WORD),
									   P(CA_SESSION), P(CA_EVENT), ""),
					 b->table[ROLE_ORDERS], Col(b, F_ORDER_STATUS),
					 Key(b, F_ORDER_STATUS, CA_STATUS_WORD));
	SetKeyIfBound(&s, b, F_ORDER_PAYMENT_STATUS, CA_PAYMENT_WORD);
	AppendOrderWhere(&s, b, CA_ORDER);
	Keep(b, STMT_CANCEL, s.data, CA_NPARAMS, cancel_types);
}

/*
 * GenCartStatements
 *		The user's active cart, the order's products locked, the order's
 *		lines put back into a cart.
 */
static void
GenCartStatements(ShopBinding *b)
{
	Oid			text1[1] = {TEXTOID};
	Oid			restore_types[RS_NPARAMS] = {TEXTOID, TEXTOID};
	int64		qmax = b->field[F_ITEM_QUANTITY].max;

	Keep(b, STMT_FIND_ACTIVE,
		 psprintf("SELECT c.%s::text FROM %s c WHERE c.%s = %s AND NOT c.%s"
				  " ORDER BY c.%s LIMIT 1 FOR NO KEY UPDATE OF c",
				  Col(b, F_CART_ID), b->table[ROLE_CARTS], Col(b, F_CART_USER),
				  Key(b, F_CART_USER, AC_USER), Col(b, F_CART_LOCKED), Col(b, F_CART_ID)),
		 AC_NPARAMS, text1);

	Keep(b, STMT_CREATE_ACTIVE,
		 psprintf("INSERT INTO %s (%s, %s%s%s) VALUES (%s, false%s%s) RETURNING %s::text",
				  b->table[ROLE_CARTS], Col(b, F_CART_USER), Col(b, F_CART_LOCKED),
				  b->field[F_CART_CREATED_AT].bound ? psprintf(", %s", Col(b, F_CART_CREATED_AT)) : "",
				  b->constants[ROLE_CARTS], Key(b, F_CART_USER, AC_USER),
				  b->field[F_CART_CREATED_AT].bound ? ", pg_catalog.now()" : "",
				  b->constant_values[ROLE_CARTS], Col(b, F_CART_ID)),
		 AC_NPARAMS, text1);
	b->stmt[STMT_CREATE_ACTIVE].inserts_cart = true;

	/*
	 * Every product of the order, not only those holding stock, in ascending
	 * id order: putting the items back into a cart checks the cart items'
	 * foreign key (FOR KEY SHARE on each product), which must not wait
	 * behind a lock on a lower product id while we hold a higher one.
	 */
	Keep(b, STMT_LOCK_PRODUCTS,
		 psprintf("SELECT p.%s FROM %s p"
				  " WHERE p.%s IN (SELECT l.product_id::%s FROM stripe_webhook.order_lines l"
				  "                 WHERE l.order_table = %s AND l.order_id = %s)"
				  " ORDER BY p.%s FOR NO KEY UPDATE OF p",
				  Col(b, F_PRODUCT_ID), b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_ID),
				  b->field[F_PRODUCT_ID].cast, OrderTable(b), P(LP_ORDER), Col(b, F_PRODUCT_ID)),
		 LP_NPARAMS, text1);

	/*
	 * Merge the order's lines into the cart: add to the first existing line
	 * of each product, insert the others.
	 */
	Keep(b, STMT_RESTORE,
		 psprintf("WITH l AS ("
				  "  SELECT l.product_id::%s AS product, l.quantity"
				  "    FROM stripe_webhook.order_lines l WHERE l.order_table = %s AND l.order_id = %s"
				  "), u AS ("
				  "  UPDATE %s ci SET %s = LEAST(ci.%s::int8 + l.quantity, " INT64_FORMAT ")::%s"
				  "    FROM l"
				  "   WHERE ci.%s = %s AND ci.%s = l.product"
				  "     AND NOT EXISTS (SELECT 1 FROM %s d WHERE d.%s = ci.%s AND d.%s = ci.%s"
				  "                        AND d.ctid < ci.ctid)"
				  "  RETURNING ci.%s AS product"
				  ")"
				  "INSERT INTO %s (%s, %s, %s%s)"
				  " SELECT %s, l.product, LEAST(l.quantity, " INT64_FORMAT ")::%s%s FROM l"
				  "  WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.product = l.product)",
				  b->field[F_ITEM_PRODUCT].cast, OrderTable(b), P(RS_ORDER),
				  b->table[ROLE_CART_ITEMS], Col(b, F_ITEM_QUANTITY), Col(b, F_ITEM_QUANTITY),
				  qmax, b->field[F_ITEM_QUANTITY].cast,
				  Col(b, F_ITEM_CART), Key(b, F_ITEM_CART, RS_CART), Col(b, F_ITEM_PRODUCT),
				  b->table[ROLE_CART_ITEMS], Col(b, F_ITEM_CART), Col(b, F_ITEM_CART),
				  Col(b, F_ITEM_PRODUCT), Col(b, F_ITEM_PRODUCT),
				  Col(b, F_ITEM_PRODUCT),
				  b->table[ROLE_CART_ITEMS], Col(b, F_ITEM_CART), Col(b, F_ITEM_PRODUCT),
				  Col(b, F_ITEM_QUANTITY), b->constants[ROLE_CART_ITEMS],
				  Key(b, F_ITEM_CART, RS_CART), qmax, b->field[F_ITEM_QUANTITY].cast,
				  b->constant_values[ROLE_CART_ITEMS]),
		 RS_NPARAMS, restore_types);
}

/*
 * GenHoldStatements
 *		The stock holds (holds.c): a cart's owner, the products a new hold
 *		needs locked in id order, the hold written, a session's hold shown,
 *		and held stock released.  Every write of a product's stock is one
 *		UPDATE per product (a statement may change a row once), after the
 *		products were locked in id order by a statement of their own.
 */
static void
GenHoldStatements(ShopBinding *b)
{
	Oid			text1[1] = {TEXTOID};
	Oid			texts1[1] = {TEXTARRAYOID};
	Oid			lock_types[HL_NPARAMS] = {TEXTOID, TEXTOID, TEXTARRAYOID, INT8ARRAYOID};
	Oid			write_types[HW_NPARAMS] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID,
	INT8ARRAYOID, TIMESTAMPTZOID};
	Oid			release_types[RE_NPARAMS] = {TEXTARRAYOID, TEXTOID};
	char	   *carts = quote_literal_cstr(b->table[ROLE_CARTS]);
	char	   *pcast = b->field[F_PRODUCT_ID].cast;

	Keep(b, STMT_HOLD_OWNER,
		 psprintf("SELECT c.%s::text FROM %s c WHERE c.%s = %s",
				  Col(b, F_CART_USER), b->table[ROLE_CARTS], Col(b, F_CART_ID),
				  Key(b, F_CART_ID, HO_CART)),
		 HO_NPARAMS, text1);

	/*
	 * What the cart wants and what other sessions hold for it: locked in id
	 * order first, then read in a snapshot taken after the locks (see
	 * GenTakeLock)
	 */
	for (int locking = 1; locking >= 0; locking--)
		Keep(b, locking ? STMT_HOLD_LOCK : STMT_HOLD_CHECK,
			 psprintf("WITH w AS ("
					  "  SELECT * FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s))"
					  "    AS w(product, quantity)"
					  "), o AS ("
					  "  SELECT h.product_id AS product, pg_catalog.sum(h.quantity)::int8 AS held"
					  "    FROM stripe_webhook.holds h"
					  "   WHERE h.cart_table = %s AND h.cart_id = %s AND h.product_table = %s"
					  "     AND h.status = 'held' AND h.checkout_session_id <> %s"
					  "   GROUP BY h.product_id"
					  "), a AS ("
					  "  SELECT COALESCE(w.product, o.product) AS product,"
					  "         COALESCE(w.quantity, 0)::int8 AS wanted, COALESCE(o.held, 0)::int8 AS replaced"
					  "    FROM w FULL JOIN o ON o.product = w.product"
					  ")"
					  "%s",
					  P(HL_PRODUCTS), P(HL_QUANTITIES),
					  carts, P(HL_CART), ProductTable(b), P(HL_SESSION),
					  locking ?
					  psprintf("SELECT p.%s FROM %s p WHERE p.%s IN (SELECT a.product::%s FROM a)"
							   " ORDER BY p.%s FOR NO KEY UPDATE OF p",
							   Col(b, F_PRODUCT_ID), b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_ID),
							   pcast, Col(b, F_PRODUCT_ID)) :
					  psprintf("SELECT p.%s::text, GREATEST(p.%s, 0)::int8, a.wanted, a.replaced"
							   "  FROM %s p JOIN a ON p.%s = a.product::%s ORDER BY p.%s",
							   Col(b, F_PRODUCT_ID), Col(b, F_PRODUCT_STOCK),
							   b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_ID), pcast,
							   Col(b, F_PRODUCT_ID))),
			 HL_NPARAMS, lock_types);

	/* the other sessions' holds released, the new one written */
	Keep(b, STMT_HOLD_WRITE,
		 psprintf("WITH w AS ("
				  "  SELECT * FROM ROWS FROM (pg_catalog.unnest(%s), pg_catalog.unnest(%s))"
				  "    AS w(product, quantity)"
				  "), o AS ("
				  "  UPDATE stripe_webhook.holds h"
				  "     SET status = 'released', returned = h.quantity, release_reason = 'replaced',"
				  "         settled_at = pg_catalog.now()"
				  "   WHERE h.cart_table = %s AND h.cart_id = %s AND h.product_table = %s"
				  "     AND h.status = 'held' AND h.checkout_session_id <> %s"
				  "  RETURNING h.checkout_session_id, h.product_id, h.quantity"
				  "), og AS ("
				  "  SELECT o.product_id AS product, pg_catalog.sum(o.quantity)::int8 AS held"
				  "    FROM o GROUP BY o.product_id"
				  "), a AS ("
				  "  SELECT COALESCE(w.product, og.product) AS product,"
				  "         COALESCE(og.held, 0)::int8 - COALESCE(w.quantity, 0)::int8 AS delta"
				  "    FROM w FULL JOIN og ON og.product = w.product"
				  "), u AS ("
				  "  UPDATE %s x SET %s = x.%s + a.delta FROM a"
				  "   WHERE x.%s = a.product::%s AND a.delta <> 0"
				  "), n AS ("
				  "  INSERT INTO stripe_webhook.holds"
				  "    (checkout_session_id, product_table, product_id, cart_table, cart_id, user_id,"
				  "     quantity, expires_at)"
				  "  SELECT %s, %s, w.product, %s, %s, %s, w.quantity, %s FROM w"
				  "  RETURNING 1"
				  ")"
				  "SELECT (SELECT pg_catalog.count(*) FROM n),"
				  "       (SELECT COALESCE(pg_catalog.array_agg(DISTINCT o.checkout_session_id"
				  "                                             ORDER BY o.checkout_session_id), '{}')"
				  "          FROM o)",
				  P(HW_PRODUCTS), P(HW_QUANTITIES),
				  carts, P(HW_CART), ProductTable(b), P(HW_SESSION),
				  b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_STOCK), Col(b, F_PRODUCT_STOCK),
				  Col(b, F_PRODUCT_ID), pcast,
				  P(HW_SESSION), ProductTable(b), carts, P(HW_CART), P(HW_USER), P(HW_EXPIRES)),
		 HW_NPARAMS, write_types);

	Keep(b, STMT_HOLD_SHOW,
		 psprintf("SELECT h.cart_table = %s AND h.product_table = %s AS ours, h.cart_id,"
				  "       h.product_id, h.quantity, h.status, pg_catalog.to_json(h.expires_at)::text"
				  "  FROM stripe_webhook.holds h WHERE h.checkout_session_id = %s"
				  " ORDER BY CASE WHEN h.product_table = %s THEN h.product_id::%s END, h.product_id",
				  carts, ProductTable(b), P(HS_SESSION), ProductTable(b), pcast),
		 HS_NPARAMS, text1);

	Keep(b, STMT_RELEASE_LOCK,
		 psprintf("SELECT p.%s FROM %s p"
				  " WHERE p.%s IN (SELECT h.product_id::%s FROM stripe_webhook.holds h"
				  "                 WHERE h.checkout_session_id = ANY (%s) AND h.product_table = %s"
				  "                   AND h.status = 'held')"
				  " ORDER BY p.%s FOR NO KEY UPDATE OF p",
				  Col(b, F_PRODUCT_ID), b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_ID), pcast,
				  P(RL_SESSIONS), ProductTable(b), Col(b, F_PRODUCT_ID)),
		 RL_NPARAMS, texts1);

	Keep(b, STMT_RELEASE,
		 psprintf("WITH r AS ("
				  "  UPDATE stripe_webhook.holds h"
				  "     SET status = 'released', returned = h.quantity, release_reason = %s,"
				  "         settled_at = pg_catalog.now()"
				  "   WHERE h.checkout_session_id = ANY (%s) AND h.product_table = %s AND h.status = 'held'"
				  "  RETURNING h.checkout_session_id, h.product_id, h.quantity"
				  "), g AS ("
				  "  SELECT r.product_id AS product, pg_catalog.sum(r.quantity)::int8 AS quantity"
				  "    FROM r GROUP BY r.product_id"
				  "), u AS ("
				  "  UPDATE %s x SET %s = x.%s + g.quantity FROM g WHERE x.%s = g.product::%s"
				  ")"
				  "SELECT pg_catalog.count(DISTINCT r.checkout_session_id)::int8,"
				  "       COALESCE(pg_catalog.sum(r.quantity), 0)::int8 FROM r",
				  P(RE_REASON), P(RE_SESSIONS), ProductTable(b),
				  b->table[ROLE_PRODUCTS], Col(b, F_PRODUCT_STOCK), Col(b, F_PRODUCT_STOCK),
				  Col(b, F_PRODUCT_ID), pcast),
		 RE_NPARAMS, release_types);
}

/*
 * ShopGenerateStatements
 *		See binding.h.  Runs in the binding's memory context.
 */
void
ShopGenerateStatements(ShopBinding *b)
{
	GenLockCart(b);
	GenCartLines(b);
	GenWriteOrder(b);
	GenWriteLines(b);
	GenTakeLock(b);
	GenOrderStatements(b);
	GenCartStatements(b);
	GenHoldStatements(b);
	GenPaymentStatements(b);
}
