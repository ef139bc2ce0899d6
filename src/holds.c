/*-------------------------------------------------------------------------
 *
 * holds.c
 *		Stock holds: stock set aside for a Checkout Session while it is
 *		open, as Stripe's "Manage limited inventory" guide asks.
 *
 *	  reserve_cart(cart, session, expires_at)  the shop calls it when it
 *			creates the Checkout Session: the cart's quantities are taken
 *			from the products' stock column and recorded per product in
 *			stripe_webhook.holds; all or nothing (SW501 when short).  The
 *			same session again returns its hold; a new session for a cart
 *			held by another one replaces that hold (the customer started
 *			checkout again).
 *	  completed				the order takes from the hold first, the rest
 *			from stock; held units it does not take go back (fulfil_completed.c's
 *			DecideStock, written by STMT_WRITE_ORDER).
 *	  expired, async_payment_failed without an order, release_hold(),
 *	  release_expired_holds()  what is still held goes back to stock.
 *
 * Lock order, as everywhere (fulfil_int.h): the user's advisory lock, the
 * cart, products in ascending id order.  A release takes the user's lock
 * (release_expired_holds only tries it, and leaves a busy user's holds for
 * its next run), then the held products in id order.  Every release and
 * conversion updates only rows still 'held', in the statement that moves
 * the stock, so a unit is never returned twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil_int.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

/*
 * Shortest and longest hold: Stripe's range for a session's expires_at (30
 * minutes to 24 hours after the session is created), measured from now()
 * here.  The session exists before reserve_cart() is called (its id is an
 * argument), so the shortest hold allows HOLD_GRACE_SECONDS for the time
 * between the two.
 */
#define HOLD_MIN_SECONDS	(30 * 60)
#define HOLD_GRACE_SECONDS	(5 * 60)
#define HOLD_MAX_SECONDS	(24 * 60 * 60)

/* Most sessions release_expired_holds() releases in one call */
#define RELEASE_BATCH		500

/*
 * ArgText
 *		Argument i as a C string; NULL raises 22004 naming it.
 */
static char *
ArgText(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * CheckSessionId
 *		A Checkout Session id: "cs_" and up to 255 characters, no spaces.
 */
static void
CheckSessionId(const char *session)
{
	bool		ok = strncmp(session, "cs_", 3) == 0 && strlen(session) > 3 &&
		strlen(session) <= 255;

	for (const char *c = session; ok && *c; c++)
		if ((unsigned char) *c <= ' ')
			ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("checkout_session_id is not a Checkout Session id"),
				 errdetail("The id is \"%s\"; Checkout Session ids start with \"cs_\" and have no spaces.",
						   pnstrdup(session, 80)),
				 errhint("Pass the id Stripe returned when the Checkout Session was created.")));
}

/*
 * ReleaseSessionHolds
 *		See fulfil_int.h.
 */
int64
ReleaseSessionHolds(const ShopBinding *b, char **sessions, int n, const char *reason)
{
	Datum		values[RE_NPARAMS];
	bool		isnull;

	if (n == 0)
		return 0;
	values[RE_SESSIONS] = SpiParamTextArray(sessions, n);
	ShopRun(b, STMT_RELEASE_LOCK, values, NULL, SPI_OK_SELECT);
	values[RE_REASON] = CStringGetTextDatum(reason);
	ShopRun(b, STMT_RELEASE, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "release of held stock returned " UINT64_FORMAT " rows", SPI_processed);
	return SpiInt64(0, 1, &isnull);
}

/*
 * HoldJson
 *		The session's hold as jsonb: {"checkout_session_id", "cart_id",
 *		"expires_at", "created", "lines": [{"product_id", "quantity"}],
 *		"replaced": [session ids]}.  Reads STMT_HOLD_SHOW's result; the
 *		value is made in the caller's memory (it outlives SPI_finish).
 */
static Jsonb *
HoldJson(const char *session, bool created, ArrayType *replaced)
{
	StringInfoData j;
	Datum	   *elems;
	bool	   *nulls;
	int			n = 0;

	initStringInfo(&j);
	appendStringInfoString(&j, "{\"checkout_session_id\": ");
	escape_json(&j, session);
	appendStringInfoString(&j, ", \"cart_id\": ");
	escape_json(&j, SpiText(0, 2));
	appendStringInfo(&j, ", \"expires_at\": %s, \"created\": %s, \"lines\": [",
					 SpiText(0, 6), created ? "true" : "false");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		appendStringInfoString(&j, i > 0 ? ", {\"product_id\": " : "{\"product_id\": ");
		escape_json(&j, SpiText(i, 3));
		appendStringInfo(&j, ", \"quantity\": %s}", SpiText(i, 4));
	}
	appendStringInfoString(&j, "], \"replaced\": [");
	if (replaced != NULL)
		deconstruct_array_builtin(replaced, TEXTOID, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&j, ", ");
		escape_json(&j, TextDatumGetCString(elems[i]));
	}
	appendStringInfoString(&j, "]}");
	return DatumGetJsonbP(SPI_datumTransfer(DirectFunctionCall1(jsonb_in, CStringGetDatum(j.data)),
											false, -1));
}

/*
 * ShowHold
 *		Run STMT_HOLD_SHOW for the session; returns the number of rows.
 */
static uint64
ShowHold(const ShopBinding *b, const char *session)
{
	Datum		values[HS_NPARAMS];

	values[HS_SESSION] = CStringGetTextDatum(session);
	ShopRun(b, STMT_HOLD_SHOW, values, NULL, SPI_OK_SELECT);
	return SPI_processed;
}

/*
 * HoldConflict
 *		SW503 with a message, a detail and the usual hint.
 */
pg_noreturn static void
HoldConflict(const char *message, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_HOLD_CONFLICT),
			 errmsg("%s", message),
			 errdetail("%s", detail),
			 errhint("%s Nothing was held.", hint)));
}

/*
 * CheckExpiry
 *		SW502 unless expires_at is within Stripe's range for a Checkout
 *		Session: from now() + 25 minutes (30, less the grace for the time
 *		since the session was created) to now() + 24 hours.
 */
static void
CheckExpiry(TimestampTz expires)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz earliest = TimestampTzPlusMilliseconds(now,
													   (HOLD_MIN_SECONDS - HOLD_GRACE_SECONDS) * INT64CONST(1000));
	TimestampTz latest = TimestampTzPlusMilliseconds(now, HOLD_MAX_SECONDS * INT64CONST(1000));

	if (TIMESTAMP_NOT_FINITE(expires) || expires < earliest || expires > latest)
		ereport(ERROR,
				(errcode(ERRCODE_SW_HOLD_EXPIRY),
				 errmsg("expires_at must be 30 minutes to 24 hours after the checkout session was created"),
				 errdetail("expires_at is %s; reserve_cart accepts %s (now() + %d minutes) to %s (now() + 24 hours).",
						   timestamptz_to_str(expires), timestamptz_to_str(earliest),
						   (HOLD_MIN_SECONDS - HOLD_GRACE_SECONDS) / 60, timestamptz_to_str(latest)),
				 errhint("Pass the expires_at the Checkout Session was created with, and call reserve_cart right after creating it; nothing was held.")));
}

/*
 * LockHeldCart
 *		Find the cart's user, take the user's lock, then lock the cart
 *		(lock order: user, cart).  Returns the user (text); raises SW204 if
 *		the cart does not exist, SW503 if it is checked out or changed
 *		hands in between.
 */
static char *
LockHeldCart(const ShopBinding *b, const char *cart)
{
	Datum		ho[HO_NPARAMS];
	Datum		values[LC_NPARAMS];
	char	   *owner;

	ho[HO_CART] = CStringGetTextDatum(cart);
	ShopRun(b, STMT_HOLD_OWNER, ho, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_NOT_FOUND),
				 errmsg("cart does not exist"),
				 errdetail("Cart %s is not in %s.", cart, b->table_name[ROLE_CARTS]),
				 errhint("Pass the id of the cart the Checkout Session is created for; nothing was held.")));
	owner = SpiText(0, 1);
	LockUser(owner);

	values[LC_CART] = CStringGetTextDatum(cart);
	values[LC_USER] = CStringGetTextDatum(owner);
	ShopRun(b, STMT_LOCK_CART, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0 || !SpiBool(0, 1))
		HoldConflict("cart changed while it was being held",
					 psprintf("Cart %s was deleted or given to another user during the call.", cart),
					 "Call reserve_cart again.");
	if (SpiBool(0, 3))
		HoldConflict("cart is checked out",
					 psprintf("Cart %s in %s is locked%s.", cart, b->table_name[ROLE_CARTS],
							  SpiText(0, 4) ? psprintf(" by the order of checkout session %s",
													   SpiText(0, 4)) : ""),
					 "Hold the user's active cart instead.");
	return owner;
}

/*
 * CheckSessionFree
 *		SW503 when the extension already knows the session: it has an
 *		order, or was recorded as expired or failed.
 */
static void
CheckSessionFree(const char *session)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(session);
	RunPlan(KeepPlan(&plan,
					 "SELECT s.order_id, s.outcome FROM stripe_webhook.checkout_sessions s WHERE s.id = $1",
					 1, types),
			values, NULL, SPI_OK_SELECT, "checkout session lookup");
	if (SPI_processed > 0)
		HoldConflict("checkout session is already processed",
					 SpiText(0, 1) != NULL ?
					 psprintf("Checkout session \"%s\" already has order %s.", session, SpiText(0, 1)) :
					 psprintf("Checkout session \"%s\" was recorded as %s.", session, SpiText(0, 2)),
					 "Create a new Checkout Session to check out again.");
}

/*
 * ReserveCart
 *		reserve_cart(cart, session, expires_at), for either type of cart
 *		argument (int_cart: the bigint overload).  Every check comes before
 *		the one statement that writes.
 */
static Datum
ReserveCart(FunctionCallInfo fcinfo, bool int_cart)
{
	const ShopBinding *b;
	char	   *cart_arg;
	char	   *session;
	char	   *cart;
	char	   *owner;
	TimestampTz expires;
	int			n;
	char	  **products;
	Datum	   *quantities;
	Datum		product_array;
	Datum		quantity_array;
	Datum		values[HW_NPARAMS];
	StringInfoData shortages;
	bool		isnull;
	ArrayType  *replaced;
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cart_id must not be null")));
	cart_arg = int_cart ? psprintf(INT64_FORMAT, PG_GETARG_INT64(0)) :
		text_to_cstring(PG_GETARG_TEXT_PP(0));
	session = ArgText(fcinfo, 1, "checkout_session_id");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("expires_at must not be null"),
				 errhint("Pass the expires_at the Checkout Session is created with.")));
	expires = PG_GETARG_TIMESTAMPTZ(2);
	CheckSessionId(session);

	SpiConnect();
	b = ShopBindingAcquire();
	if (int_cart && b->field[F_CART_ID].tc != TC_INT)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the shop's cart ids are not integers"),
				 errdetail("The bound carts table %s has ids of type %s.",
						   b->table_name[ROLE_CARTS], b->field[F_CART_ID].cast),
				 errhint("Call stripe_webhook.reserve_cart(cart_id text, checkout_session_id text, expires_at timestamptz).")));
	cart = ShopKeyCanonical(&b->field[F_CART_ID], cart_arg);
	if (cart == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart_id is not a valid cart id"),
				 errdetail("cart_id is \"%s\"; the ids of %s are of type %s.",
						   pnstrdup(cart_arg, 80), b->table_name[ROLE_CARTS], b->field[F_CART_ID].cast),
				 errhint("Pass the id of the cart the Checkout Session is created for; nothing was held.")));

	owner = LockHeldCart(b, cart);

	/* the same session again: what it holds */
	if (ShowHold(b, session) > 0)
	{
		for (uint64 i = 0; i < SPI_processed; i++)
			if (strcmp(SpiText(i, 5), "held") != 0)
				HoldConflict("checkout session's hold is already settled",
							 psprintf("The stock held for checkout session \"%s\" was %s.", session,
									  SpiText(i, 5)),
							 "Create a new Checkout Session to check out again.");
		if (!SpiBool(0, 1) || strcmp(SpiText(0, 2), cart) != 0)
			HoldConflict("checkout session already holds another cart",
						 psprintf("Checkout session \"%s\" holds cart %s, not cart %s.", session,
								  SpiText(0, 2), cart),
						 "Hold each cart under the Checkout Session created for it.");
		result = HoldJson(session, false, NULL);
		SpiFinish();
		PG_RETURN_JSONB_P(result);
	}
	CheckSessionFree(session);
	CheckExpiry(expires);

	/* the cart's lines, summed per product, in id order */
	{
		Datum		lv[CL_NPARAMS];

		lv[CL_CART] = CStringGetTextDatum(cart);
		lv[CL_SESSION] = CStringGetTextDatum(session);
		ShopRun(b, STMT_CART_LINES, lv, NULL, SPI_OK_SELECT);
	}
	n = (int) SPI_processed;
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_EMPTY),
				 errmsg("cart has no items"),
				 errdetail("Cart %s of user \"%s\" has no items to hold.", cart, owner),
				 errhint("Hold the cart after the customer has put something in it; nothing was held.")));
	products = palloc(n * sizeof(char *));
	quantities = palloc(n * sizeof(Datum));
	for (int i = 0; i < n; i++)
	{
		products[i] = SpiText(i, 1);
		quantities[i] = Int64GetDatum(SpiInt64(i, 2, &isnull));
	}

	/* the products locked in id order; enough stock for everything? */
	values[HL_CART] = CStringGetTextDatum(cart);
	values[HL_SESSION] = CStringGetTextDatum(session);
	product_array = SpiParamTextArray(products, n);
	quantity_array = SpiParamArray(quantities, n, INT8OID);
	values[HL_PRODUCTS] = product_array;
	values[HL_QUANTITIES] = quantity_array;
	ShopRun(b, STMT_HOLD_LOCK, values, NULL, SPI_OK_SELECT);
	ShopRun(b, STMT_HOLD_CHECK, values, NULL, SPI_OK_SELECT);
	initStringInfo(&shortages);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int64		stock = SpiInt64(i, 2, &isnull);
		int64		wanted = SpiInt64(i, 3, &isnull);
		int64		replaced_units = SpiInt64(i, 4, &isnull);

		if (wanted > stock + replaced_units)
			appendStringInfo(&shortages, "%sproduct %s: " INT64_FORMAT " wanted, " INT64_FORMAT " available",
							 shortages.len > 0 ? "; " : "", SpiText(i, 1), wanted,
							 stock + replaced_units);
	}
	if (shortages.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_HOLD_STOCK_SHORT),
				 errmsg("not enough stock to hold cart %s", cart),
				 errdetail("%s.", shortages.data),
				 errhint("Show the customer what is available and let them change the cart before checkout; nothing was held.")));

	/* the write: other sessions' holds of the cart released, this one made */
	values[HW_CART] = CStringGetTextDatum(cart);
	values[HW_SESSION] = CStringGetTextDatum(session);
	values[HW_USER] = CStringGetTextDatum(owner);
	values[HW_PRODUCTS] = product_array;
	values[HW_QUANTITIES] = quantity_array;
	values[HW_EXPIRES] = TimestampTzGetDatum(expires);
	ShopRun(b, STMT_HOLD_WRITE, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1 || SpiInt64(0, 1, &isnull) != n)
		elog(ERROR, "hold of checkout session \"%s\" was not written", session);
	replaced = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 2, &isnull));
	StepLog("cart %s held for checkout session %s until %s (%d products)",
			cart, session, timestamptz_to_str(expires), n);

	ShowHold(b, session);
	result = HoldJson(session, true, replaced);
	SpiFinish();
	PG_RETURN_JSONB_P(result);
}

/*
 * SQL function: reserve_cart(cart_id bigint, checkout_session_id text,
 * expires_at timestamptz) RETURNS jsonb
 */
PG_FUNCTION_INFO_V1(stripe_webhook_reserve_cart);

Datum
stripe_webhook_reserve_cart(PG_FUNCTION_ARGS)
{
	return ReserveCart(fcinfo, true);
}

/*
 * SQL function: reserve_cart(cart_id text, checkout_session_id text,
 * expires_at timestamptz) RETURNS jsonb
 */
PG_FUNCTION_INFO_V1(stripe_webhook_reserve_cart_text);

Datum
stripe_webhook_reserve_cart_text(PG_FUNCTION_ARGS)
{
	return ReserveCart(fcinfo, false);
}

/* SQL function: release_hold(checkout_session_id text) RETURNS boolean */
PG_FUNCTION_INFO_V1(stripe_webhook_release_hold);

Datum
stripe_webhook_release_hold(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	const ShopBinding *b;
	char	   *session = ArgText(fcinfo, 0, "checkout_session_id");
	int64		released = 0;

	CheckSessionId(session);
	SpiConnect();
	b = ShopBindingAcquire();
	values[0] = CStringGetTextDatum(session);
	values[1] = CStringGetTextDatum(b->table[ROLE_PRODUCTS]);
	RunPlan(KeepPlan(&plan,
					 "SELECT DISTINCT h.user_id FROM stripe_webhook.holds h"
					 " WHERE h.checkout_session_id = $1 AND h.product_table = $2 AND h.status = 'held'",
					 2, types),
			values, NULL, SPI_OK_SELECT, "held session lookup");
	if (SPI_processed > 0)
	{
		LockUser(SpiText(0, 1));
		released = ReleaseSessionHolds(b, &session, 1, "released");
	}
	if (released > 0)
		StepLog("stock held for checkout session %s released", session);
	SpiFinish();
	PG_RETURN_BOOL(released > 0);
}

/* SQL function: release_expired_holds() RETURNS integer */
PG_FUNCTION_INFO_V1(stripe_webhook_release_expired_holds);

Datum
stripe_webhook_release_expired_holds(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	const ShopBinding *b;
	char	  **sessions;
	int			n = 0;
	int64		released;

	SpiConnect();
	b = ShopBindingAcquire();
	values[0] = CStringGetTextDatum(b->table[ROLE_PRODUCTS]);
	values[1] = Int32GetDatum(RELEASE_BATCH);
	RunPlan(KeepPlan(&plan,
					 "SELECT h.checkout_session_id, pg_catalog.min(h.user_id)"
					 "  FROM stripe_webhook.holds h"
					 " WHERE h.status = 'held' AND h.expires_at <= pg_catalog.now() AND h.product_table = $1"
					 " GROUP BY h.checkout_session_id"
					 " ORDER BY pg_catalog.min(h.expires_at), h.checkout_session_id LIMIT $2",
					 2, types),
			values, NULL, SPI_OK_SELECT, "expired holds lookup");
	sessions = palloc(Max(SPI_processed, 1) * sizeof(char *));

	/*
	 * A user whose lock is taken is in a delivery or a hold right now: its
	 * holds are left for the next run rather than waited for.
	 */
	{
		SPITupleTable *found = SPI_tuptable;
		uint64		nfound = SPI_processed;

		for (uint64 i = 0; i < nfound; i++)
		{
			char	   *user = SPI_getvalue(found->vals[i], found->tupdesc, 2);

			if (TryLockUser(user))
				sessions[n++] = SPI_getvalue(found->vals[i], found->tupdesc, 1);
		}
	}
	released = ReleaseSessionHolds(b, sessions, n, "lapsed");
	if (released > 0)
		StepLog("stock held for " INT64_FORMAT " checkout sessions past their expires_at released",
				released);
	SpiFinish();
	PG_RETURN_INT32((int32) released);
}
