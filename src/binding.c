/*-------------------------------------------------------------------------
 *
 * binding.c
 *		The per-backend cache of the active shop binding (see binding.h),
 *		and the invalidation that keeps it current.
 *
 * Building the cache:
 *	  1. read the active document from the view stripe_webhook.shop_binding
 *		 (the built-in tables' document when nothing is bound);
 *	  2. run stripe_webhook.binding_problems() on it: the one validator,
 *		 which bind_shop() ran too.  A problem found now means a bound table
 *		 changed after binding (renamed, dropped, retyped): SW402, which the
 *		 webhook answers 503 so that Stripe retries after the shop rebinds;
 *	  3. resolve every table and column in the catalog, with its type;
 *	  4. generate the statements (shop_sql.c).  Plans are prepared on first
 *		 use and kept until the cache is rebuilt.
 *
 * Invalidation: a relcache callback marks the cache stale when the binding
 * table changes (its trigger sends a relcache invalidation at commit) or
 * any bound table does (ALTER, DROP, RENAME; also ANALYZE and VACUUM, which
 * only cost a rebuild).  Nothing is freed in the callback: the next
 * ShopBindingAcquire() frees the old cache and builds a new one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "binding.h"
#include "errcodes.h"
#include "jsonb_util.h"
#include "spi_util.h"
#include "stripe_webhook.h"

PG_FUNCTION_INFO_V1(stripe_webhook_binding_changed);

/* The document's key of each role */
static const char *const role_keys[SHOP_NROLES] = {
	"products", "carts", "cart_items", "orders", "order_items"
};

/* Every logical column: its role and its name in the document */
static const struct
{
	ShopRole	role;
	const char *name;
}			shop_fields[SHOP_NFIELDS] =
{
	[F_PRODUCT_ID] = {ROLE_PRODUCTS, "id"},
	[F_PRODUCT_PRICE] = {ROLE_PRODUCTS, "price"},
	[F_PRODUCT_STOCK] = {ROLE_PRODUCTS, "stock"},
	[F_PRODUCT_CURRENCY] = {ROLE_PRODUCTS, "currency"},
	[F_CART_ID] = {ROLE_CARTS, "id"},
	[F_CART_USER] = {ROLE_CARTS, "user"},
	[F_CART_LOCKED] = {ROLE_CARTS, "locked"},
	[F_CART_LOCKED_AT] = {ROLE_CARTS, "locked_at"},
	[F_CART_CREATED_AT] = {ROLE_CARTS, "created_at"},
	[F_CART_CHECKOUT_SESSION] = {ROLE_CARTS, "checkout_session"},
	[F_ITEM_CART] = {ROLE_CART_ITEMS, "cart"},
	[F_ITEM_PRODUCT] = {ROLE_CART_ITEMS, "product"},
	[F_ITEM_QUANTITY] = {ROLE_CART_ITEMS, "quantity"},
	[F_ORDER_ID] = {ROLE_ORDERS, "id"},
	[F_ORDER_USER] = {ROLE_ORDERS, "user"},
	[F_ORDER_STATUS] = {ROLE_ORDERS, "status"},
	[F_ORDER_CART] = {ROLE_ORDERS, "cart"},
	[F_ORDER_CHECKOUT_SESSION] = {ROLE_ORDERS, "checkout_session"},
	[F_ORDER_PAYMENT_INTENT] = {ROLE_ORDERS, "payment_intent"},
	[F_ORDER_PAYMENT_STATUS] = {ROLE_ORDERS, "payment_status"},
	[F_ORDER_CURRENCY] = {ROLE_ORDERS, "currency"},
	[F_ORDER_AMOUNT_SUBTOTAL] = {ROLE_ORDERS, "amount_subtotal"},
	[F_ORDER_AMOUNT_TOTAL] = {ROLE_ORDERS, "amount_total"},
	[F_ORDER_CUSTOMER_EMAIL] = {ROLE_ORDERS, "customer_email"},
	[F_ORDER_SHIPPING_NAME] = {ROLE_ORDERS, "shipping_name"},
	[F_ORDER_SHIPPING_LINE1] = {ROLE_ORDERS, "shipping_line1"},
	[F_ORDER_SHIPPING_LINE2] = {ROLE_ORDERS, "shipping_line2"},
	[F_ORDER_SHIPPING_CITY] = {ROLE_ORDERS, "shipping_city"},
	[F_ORDER_SHIPPING_STATE] = {ROLE_ORDERS, "shipping_state"},
	[F_ORDER_SHIPPING_POSTAL_CODE] = {ROLE_ORDERS, "shipping_postal_code"},
	[F_ORDER_SHIPPING_COUNTRY] = {ROLE_ORDERS, "shipping_country"},
	[F_ORDER_REVIEW_REASON] = {ROLE_ORDERS, "review_reason"},
	[F_ORDER_CREATED_AT] = {ROLE_ORDERS, "created_at"},
	[F_ORDER_UPDATED_AT] = {ROLE_ORDERS, "updated_at"},
	[F_ORDER_AMOUNT_REFUNDED] = {ROLE_ORDERS, "amount_refunded"},
	[F_LINE_ORDER] = {ROLE_ORDER_ITEMS, "order"},
	[F_LINE_PRODUCT] = {ROLE_ORDER_ITEMS, "product"},
	[F_LINE_QUANTITY] = {ROLE_ORDER_ITEMS, "quantity"},
	[F_LINE_UNIT_PRICE] = {ROLE_ORDER_ITEMS, "unit_price"},
	[F_LINE_SHORTFALL] = {ROLE_ORDER_ITEMS, "shortfall"},
	[F_LINE_STOCK_TAKEN] = {ROLE_ORDER_ITEMS, "stock_taken"},
};

/*
 * Canonical names of the states.  The built-in tables' CHECK constraints
 * (stripe_webhook.orders.status, stripe_webhook.checkout_sessions
 * .payment_status) allow exactly these words.
 */
const char *const order_state_names[N_ORDER_STATES] = {
	[ORDER_PENDING] = "pending",
	[ORDER_CONFIRMED] = "confirmed",
	[ORDER_NEEDS_REVIEW] = "needs_review",
	[ORDER_CANCELLED] = "cancelled",
	[ORDER_REFUNDED] = "refunded",
};

const char *const payment_state_names[N_PAYMENT_STATES] = {
	[PAYMENT_UNPAID] = "unpaid",
	[PAYMENT_PAID] = "paid",
	[PAYMENT_FAILED] = "failed",
};

/* Statement names for errors (binding.h's ShopStmt) */
static const char *const shop_stmt_names[SHOP_NSTMTS] = {
	[STMT_LOCK_CART] = "lock cart",
	[STMT_CART_LINES] = "cart lines",
	[STMT_LOOKUP_ORDER] = "lookup order",
	[STMT_WRITE_ORDER] = "write order",
	[STMT_TAKE_LOCK] = "take lock",
	[STMT_WRITE_LINES] = "write lines",
	[STMT_MARK_SHORT] = "mark short",
	[STMT_LOCK_ORDER] = "lock order",
	[STMT_MARK_PAID] = "mark paid",
	[STMT_FLAG] = "flag",
	[STMT_RECORD] = "record",
	[STMT_FIND_ACTIVE] = "find active",
	[STMT_CREATE_ACTIVE] = "create active",
	[STMT_LOCK_PRODUCTS] = "lock products",
	[STMT_CANCEL] = "cancel",
	[STMT_RESTORE] = "restore",
	[STMT_HOLD_OWNER] = "hold owner",
	[STMT_HOLD_LOCK] = "hold lock",
	[STMT_HOLD_CHECK] = "hold check",
	[STMT_HOLD_WRITE] = "hold write",
	[STMT_HOLD_SHOW] = "hold show",
	[STMT_RELEASE_LOCK] = "release lock",
	[STMT_RELEASE] = "release",
	[STMT_PAYMENT_ORDER] = "payment order",
	[STMT_REFUND_ORDER] = "refund order",
	[STMT_RESTOCK] = "restock",
};

static ShopBinding *current = NULL;
static MemoryContext current_cxt = NULL;
static MemoryContext building_cxt = NULL;
static bool current_valid = false;
static Oid	binding_relid = InvalidOid;
static bool callback_registered = false;
static SPIPlanPtr document_plan = NULL;
static SPIPlanPtr problems_plan = NULL;

/*
 * BindingCacheCallback
 *		Relcache invalidation: stale if it concerns the binding table, a
 *		bound table, or everything.
 */
static void
BindingCacheCallback(Datum arg, Oid relid)
{
	if (!current_valid)
		return;
	if (relid == InvalidOid || relid == binding_relid)
	{
		current_valid = false;
		return;
	}
	for (int r = 0; r < SHOP_NROLES; r++)
		if (current->relid[r] == relid)
		{
			current_valid = false;
			return;
		}
}

/*
 * ShopFieldName
 *		"role.logical" of a field, for messages.
 */
const char *
ShopFieldName(ShopField f)
{
	return psprintf("%s.%s", role_keys[shop_fields[f].role], shop_fields[f].name);
}

/*
 * ClassOfType
 *		The type class of a column type (domains by their base type); false
 *		when the fulfilment cannot use it (binding_problems refuses those).
 */
static bool
ClassOfType(Oid typid, TypeClass *tc, int64 *max)
{
	*max = 0;
	switch (getBaseType(typid))
	{
		case INT2OID:
			*tc = TC_INT;
			*max = PG_INT16_MAX;
			return true;
		case INT4OID:
			*tc = TC_INT;
			*max = PG_INT32_MAX;
			return true;
		case INT8OID:
			*tc = TC_INT;
			*max = PG_INT64_MAX;
			return true;
		case UUIDOID:
			*tc = TC_UUID;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			*tc = TC_TEXT;
			return true;
		case NUMERICOID:
			*tc = TC_NUMERIC;
			return true;
		case BOOLOID:
			*tc = TC_BOOL;
			return true;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			*tc = TC_TIMESTAMP;
			return true;
		default:
			return false;
	}
}

/*
 * Stale
 *		Raise SW402: the stored binding does not fit the database any more.
 */
pg_noreturn static void
Stale(const char *message, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_BINDING_STALE),
			 errmsg("the shop binding no longer matches the database: %s", message),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("%s Nothing was written; Stripe retries the delivery, which succeeds once the binding matches the tables again.",
					 hint ? hint : "Fix the table, or run stripe_webhook.bind_shop() with its new names.")));
}

/*
 * ResolveTable
 *		Fill table, table_name and relid of a role from the document's
 *		(schema-qualified, quoted as needed) table name.
 */
static void
ResolveTable(ShopBinding *b, ShopRole r, const char *name)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;
	char	   *nspname;
	char	   *relname;

#if PG_VERSION_NUM >= 160000
	names = stringToQualifiedNameList(name, NULL);
#else
	names = stringToQualifiedNameList(name);
#endif
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		Stale(psprintf("table %s of role %s does not exist", name, role_keys[r]), NULL, NULL);
	b->relid[r] = relid;
	nspname = get_namespace_name(get_rel_namespace(relid));
	relname = get_rel_name(relid);
	b->table_name[r] = psprintf("%s.%s", nspname, relname);
	b->table[r] = quote_qualified_identifier(nspname, relname);
	if (r == ROLE_CARTS)
	{
		Relation	rel = table_open(relid, AccessShareLock);
		Oid			pkey;

		/*
		 * PostgreSQL 18 asks whether a deferrable primary key will do; false
		 * keeps what earlier releases return (none for a deferrable one).
		 */
#if PG_VERSION_NUM >= 180000
		pkey = RelationGetPrimaryKeyIndex(rel, false);
#else
		pkey = RelationGetPrimaryKeyIndex(rel);
#endif

		b->cart_pkey = OidIsValid(pkey) ? get_rel_name(pkey) : NULL;
		table_close(rel, AccessShareLock);
	}
}

/*
 * AttNotNull
 *		Whether column attnum of relid is NOT NULL.
 */
static bool
AttNotNull(Oid relid, AttrNumber attnum)
{
	HeapTuple	tp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	bool		notnull;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, relid);
	notnull = ((Form_pg_attribute) GETSTRUCT(tp))->attnotnull;
	ReleaseSysCache(tp);
	return notnull;
}

/*
 * ColumnAttnum
 *		The attribute number of column of role r's table; SW402 naming it as
 *		what when there is no such column.
 */
static AttrNumber
ColumnAttnum(const ShopBinding *b, ShopRole r, const char *column, const char *what)
{
	AttrNumber	attnum = get_attnum(b->relid[r], column);

	if (attnum == InvalidAttrNumber || attnum < 0)
		Stale(psprintf("column %s of %s (%s) does not exist", column, b->table_name[r], what),
			  NULL, NULL);
	return attnum;
}

/*
 * ResolveColumn
 *		Fill one bound column from the catalog.
 */
static void
ResolveColumn(ShopBinding *b, ShopField f, const char *column)
{
	ShopRole	r = shop_fields[f].role;
	BoundColumn *col = &b->field[f];
	AttrNumber	attnum = ColumnAttnum(b, r, column, ShopFieldName(f));
	Oid			typid;
	int32		typmod;
	Oid			collid;

	get_atttypetypmodcoll(b->relid[r], attnum, &typid, &typmod, &collid);
	if (!ClassOfType(typid, &col->tc, &col->max))
		Stale(psprintf("column %s of %s (%s) has type %s", column, b->table_name[r],
					   ShopFieldName(f), format_type_be(typid)), NULL, NULL);
	col->bound = true;
	col->notnull = AttNotNull(b->relid[r], attnum);
	col->column = pstrdup(quote_identifier(column));
	col->cast = format_type_be_qualified(typid);
}

/*
 * LiteralOf
 *		A JSON scalar of "values" as an SQL literal cast to the column's type.
 */
static char *
LiteralOf(const JsonbValue *v, const char *cast)
{
	switch (v->type)
	{
		case jbvNull:
			return psprintf("NULL::%s", cast);
		case jbvString:
			return psprintf("%s::%s", quote_literal_cstr(JsonbCopyString(v)), cast);
		case jbvNumeric:
			return psprintf("%s::%s",
							quote_literal_cstr(DatumGetCString(DirectFunctionCall1(numeric_out,
																				   NumericGetDatum(v->val.numeric)))),
							cast);
		case jbvBool:
			return psprintf("%s::%s", v->val.boolean ? "'true'" : "'false'", cast);
		default:
			Stale("a \"values\" entry is not a JSON scalar", NULL, NULL);
	}
}

/*
 * ParseRole
 *		Table, columns and constants of one role of the document.
 */
static void
ParseRole(ShopBinding *b, ShopRole r, JsonbContainer *doc)
{
	JsonbValue	v;
	JsonbValue	cols;
	JsonbValue	vals;
	StringInfoData names;
	StringInfoData literals;

	if (!JsonbGetKey(doc, role_keys[r], &v) || !JsonbIsObject(&v))
		Stale(psprintf("role %s is missing", role_keys[r]), NULL, NULL);
	{
		JsonbValue	t;

		if (!JsonbGetKey(v.val.binary.data, "table", &t) || t.type != jbvString)
			Stale(psprintf("role %s names no table", role_keys[r]), NULL, NULL);
		ResolveTable(b, r, JsonbCopyString(&t));
	}
	if (!JsonbGetKey(v.val.binary.data, "columns", &cols) || !JsonbIsObject(&cols))
		Stale(psprintf("role %s has no columns", role_keys[r]), NULL, NULL);
	for (int f = 0; f < SHOP_NFIELDS; f++)
	{
		JsonbValue	c;

		if (shop_fields[f].role != r)
			continue;
		if (JsonbGetKey(cols.val.binary.data, shop_fields[f].name, &c) && c.type == jbvString)
			ResolveColumn(b, (ShopField) f, JsonbCopyString(&c));
	}

	/* constants for NOT NULL columns the binding does not map */
	initStringInfo(&names);
	initStringInfo(&literals);
	if (JsonbGetKey(v.val.binary.data, "values", &vals) && JsonbIsObject(&vals))
	{
		JsonbIterator *it = JsonbIteratorInit(vals.val.binary.data);
		JsonbValue	key;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			JsonbValue	val;
			char	   *column;
			AttrNumber	attnum;

			if (tok != WJB_KEY)
				continue;
			column = JsonbCopyString(&key);
			tok = JsonbIteratorNext(&it, &val, true);
			attnum = ColumnAttnum(b, r, column, "a \"values\" entry");
			appendStringInfo(&names, ", %s", quote_identifier(column));
			appendStringInfo(&literals, ", %s",
							 LiteralOf(&val, format_type_be_qualified(get_atttype(b->relid[r], attnum))));
		}
	}
	b->constants[r] = names.data;
	b->constant_values[r] = literals.data;
}

/*
 * ParseDocument
 *		Fill b from a normalised binding document.
 */
static void
ParseDocument(ShopBinding *b, Jsonb *document)
{
	JsonbContainer *doc = &document->root;
	JsonbValue	v;

	for (int r = 0; r < SHOP_NROLES; r++)
		ParseRole(b, (ShopRole) r, doc);

	for (int s = 0; s < N_ORDER_STATES; s++)
		b->order_word[s] = pstrdup(order_state_names[s]);
	for (int s = 0; s < N_PAYMENT_STATES; s++)
		b->payment_word[s] = pstrdup(payment_state_names[s]);
	if (JsonbGetKey(doc, "status_values", &v) && JsonbIsObject(&v))
	{
		JsonbValue	w;

		for (int s = 0; s < N_ORDER_STATES; s++)
			if (JsonbGetKey(v.val.binary.data, order_state_names[s], &w) && w.type == jbvString)
				b->order_word[s] = JsonbCopyString(&w);
		for (int s = 0; s < N_PAYMENT_STATES; s++)
			if (JsonbGetKey(v.val.binary.data, payment_state_names[s], &w) && w.type == jbvString)
				b->payment_word[s] = JsonbCopyString(&w);
	}
	b->currency = NULL;
	if (JsonbGetKey(doc, "currency", &v) && v.type == jbvString)
		b->currency = JsonbCopyString(&v);
	if (b->currency == NULL && !b->field[F_PRODUCT_CURRENCY].bound)
		Stale("neither products.currency nor \"currency\" is set", NULL, NULL);
}

/*
 * CheckProblems
 *		Run the validator on the document; raise SW402 with its first
 *		problem, if any.
 */
static void
CheckProblems(Datum document)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1];

	values[0] = document;
	RunPlan(KeepPlan(&problems_plan,
					 "SELECT p.message, p.detail, p.hint"
					 "  FROM stripe_webhook.binding_problems($1) AS p",
					 1, types),
			values, NULL, SPI_OK_SELECT, "check the shop binding");
	if (SPI_processed > 0)
		Stale(SpiText(0, 1), SpiText(0, 2), SpiText(0, 3));
}

/*
 * FreeCurrent
 *		Drop the current cache: its plans and its memory.
 */
static void
FreeCurrent(void)
{
	if (current != NULL)
		for (int s = 0; s < SHOP_NSTMTS; s++)
			ForgetPlan(&current->stmt[s].plan);
	if (current_cxt != NULL)
		MemoryContextDelete(current_cxt);
	current = NULL;
	current_cxt = NULL;
	current_valid = false;
}

/*
 * Build
 *		Build the cache from the active document.  Runs under the caller's
 *		SPI connection.
 */
static void
Build(void)
{
	MemoryContext old;
	ShopBinding *b;
	Datum		document;
	bool		isnull;

	FreeCurrent();
	if (building_cxt != NULL)
		MemoryContextDelete(building_cxt);	/* an earlier build failed */
	building_cxt = AllocSetContextCreate(CacheMemoryContext, "stripe_webhook shop binding",
										 ALLOCSET_SMALL_SIZES);

	RunPlan(KeepPlan(&document_plan,
					 "SELECT b.document, b.builtin, b.version FROM stripe_webhook.shop_binding b",
					 0, NULL),
			NULL, NULL, SPI_OK_SELECT, "read the shop binding");
	if (SPI_processed != 1)
		elog(ERROR, "stripe_webhook.shop_binding has %d rows", (int) SPI_processed);
	document = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	old = MemoryContextSwitchTo(building_cxt);
	b = palloc0(sizeof(ShopBinding));
	document = PointerGetDatum(DatumGetJsonbPCopy(document));
	b->builtin = SpiBool(0, 2);
	b->version = SpiInt64(0, 3, &isnull);
	MemoryContextSwitchTo(old);

	CheckProblems(document);

	old = MemoryContextSwitchTo(building_cxt);
	ParseDocument(b, DatumGetJsonbP(document));
	ShopGenerateStatements(b);
	MemoryContextSwitchTo(old);

	current = b;
	current_cxt = building_cxt;
	building_cxt = NULL;
	current_valid = true;
}

/*
 * ShopBindingAcquire
 *		See binding.h.
 */
const ShopBinding *
ShopBindingAcquire(void)
{
	Oid			nsp = get_namespace_oid("stripe_webhook", false);
	Oid			relid = get_relname_relid("binding", nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "table stripe_webhook.binding does not exist");
	/*
	 * ROW SHARE conflicts with the EXCLUSIVE lock bind_shop() takes (ACCESS
	 * SHARE would not): a rebind waits for this transaction, and this one
	 * waits for a rebind in progress.  Taking it processes pending
	 * invalidations, so current_valid is up to date after.
	 */
	LockRelationOid(relid, RowShareLock);
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(BindingCacheCallback, (Datum) 0);
		callback_registered = true;
	}
	if (relid != binding_relid)
	{
		/* first use, or the extension was re-created */
		binding_relid = relid;
		current_valid = false;
	}
	if (!current_valid)
		Build();
	return current;
}

/*
 * ShopPlan
 *		See binding.h.
 */
SPIPlanPtr
ShopPlan(const ShopBinding *b, ShopStmt which)
{
	ShopStatement *st = (ShopStatement *) &b->stmt[which];

	return KeepPlan(&st->plan, st->sql, st->nargs, st->argtypes);
}

/*
 * IsCartIdTaken
 *		Is this error a new cart's id colliding with an existing cart?  That
 *		happens when carts were inserted with explicit ids and the id
 *		sequence was not advanced past them.
 */
static bool
IsCartIdTaken(const ShopBinding *b, const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && b->cart_pkey != NULL &&
		edata->table_name != NULL && edata->constraint_name != NULL &&
		strcmp(edata->table_name, get_rel_name(b->relid[ROLE_CARTS])) == 0 &&
		strcmp(edata->constraint_name, b->cart_pkey) == 0;
}

/*
 * ShopRun
 *		See binding.h.
 *
 * A user's new active cart takes its id from the carts' default.  If that id
 * is already taken, the bare unique violation would leave the shop
 * guessing, so it is raised again (same SQLSTATE, 23505: still a permanent
 * failure for the webhook) saying what is wrong and how to fix it.
 */
void
ShopRun(const ShopBinding *b, ShopStmt which, const Datum *values,
		const char *nulls, int expected)
{
	MemoryContext cxt = CurrentMemoryContext;
	const char *what = shop_stmt_names[which];
	ErrorData  *edata;

	if (!b->stmt[which].inserts_cart)
	{
		RunPlan(ShopPlan(b, which), values, nulls, expected, what);
		return;
	}
	PG_TRY();
	{
		RunPlan(ShopPlan(b, which), values, nulls, expected, what);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (!IsCartIdTaken(b, edata))
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("could not create the user's new active cart: its id is already taken"),
				 errdetail("%s The id sequence of %s lags behind ids that were inserted explicitly.",
						   edata->detail ? edata->detail : "", b->table_name[ROLE_CARTS]),
				 errhint("Advance it: SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(%s, %s), max(%s)) FROM %s; the next retry then succeeds.",
						 quote_literal_cstr(b->table[ROLE_CARTS]),
						 quote_literal_cstr(b->field[F_CART_ID].column),
						 b->field[F_CART_ID].column, b->table[ROLE_CARTS]),
				 err_generic_string(PG_DIAG_SCHEMA_NAME, edata->schema_name),
				 err_generic_string(PG_DIAG_TABLE_NAME, edata->table_name),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, edata->constraint_name)));
	}
	PG_END_TRY();
}

/*
 * ShopOrderState
 *		See binding.h.
 */
OrderState
ShopOrderState(const ShopBinding *b, const char *word)
{
	if (word != NULL)
		for (int s = 0; s < N_ORDER_STATES; s++)
			if (strcmp(b->order_word[s], word) == 0)
				return (OrderState) s;
	return ORDER_OTHER;
}

/*
 * PaymentStateFromName
 *		See binding.h.
 */
PaymentState
PaymentStateFromName(const char *name)
{
	for (int s = 0; s < N_PAYMENT_STATES; s++)
		if (strcmp(payment_state_names[s], name) == 0)
			return (PaymentState) s;
	elog(ERROR, "unknown payment state \"%s\"", name);
	return PAYMENT_UNPAID;		/* keep compiler quiet */
}

/*
 * SQL function: stripe_webhook_binding_changed() RETURNS trigger
 *		Statement-level trigger on stripe_webhook.binding: queue a relcache
 *		invalidation of the table, which every backend's cache listens to.
 */
Datum
stripe_webhook_binding_changed(PG_FUNCTION_ARGS)
{
	return InvalidateOnChange(fcinfo, "stripe_webhook_binding_changed()");
}
