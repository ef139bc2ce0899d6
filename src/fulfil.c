/*-------------------------------------------------------------------------
 *
 * fulfil.c
 *		stripe_fulfill_session(): turn a completed Checkout Session into an
 *		order, exactly once, inside the caller's transaction.
 *
 * The whole path is three statements over SPI, each a plan prepared once
 * per backend and kept (SPI_prepare + SPI_keepplan):
 *
 *	  1. lock the cart row (FOR NO KEY UPDATE): every fulfilment, cancellation and
 *		 failure record of a session serialises on its cart;
 *	  2. in a fresh snapshot (so it sees whatever the previous holder of the
 *		 cart lock committed): the session's existing order, a recorded
 *		 expiry or failure, and the cart's lines, locking their products in
 *		 ascending id order;
 *	  3. one data-modifying statement: insert the order, its items and the
 *		 stock taken (set-based, from arrays), lock the cart and create the
 *		 user's new active cart when there is none.
 *
 * Exactly once: every event of a session locks the session's cart first,
 * and step 2 runs in a snapshot taken after that lock, so a second delivery
 * (concurrent or not) finds the first one's order and returns it.  The
 * unique index on orders.checkout_session_id is the backstop: only payloads
 * that name different carts for one session (never sent by Stripe) could
 * reach it, and they get a unique_violation instead of a second order.
 *
 * The decisions between 2 and 3 (what to take from stock, whether the order
 * needs review and why, the money check) are made here in C.  Rare paths
 * (already processed, unknown or empty cart) cost one more lookup.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "errcodes.h"
#include "fulfil.h"
#include "fulfil_int.h"
#include "session.h"
#include "stripe_webhook.h"

/* Most reasons one order can be flagged for (see Review) */
#define MAX_REVIEW_REASONS 4

/* Why an order needs review: one WARNING each, joined into review_reason */
typedef struct Review
{
	int			n;
	const char *reason[MAX_REVIEW_REASONS];
	const char *hint[MAX_REVIEW_REASONS];
} Review;

static SPIPlanPtr lock_cart_plan = NULL;
static SPIPlanPtr lookup_order_plan = NULL;
static SPIPlanPtr cart_lines_plan = NULL;
static SPIPlanPtr write_order_plan = NULL;

static const char *lock_cart_sql =
"SELECT user_id, locked, checkout_session_id"
"  FROM stripe_webhook.carts WHERE id = $1 FOR NO KEY UPDATE";

static const char *lookup_order_sql =
"SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = $1";

/*
 * ORDER BY under a row lock: rows are sorted first, then locked in order.
 * NO KEY UPDATE (we change stock, not keys) does not block other
 * transactions' foreign key checks, e.g. a customer adding the product to a
 * cart, but does serialise fulfilments.
 */
static const char *cart_lines_sql =
"SELECT ci.product_id, ci.quantity, p.price_amount, p.currency, p.stock,"
"       (SELECT o.id FROM stripe_webhook.orders o"
"         WHERE o.checkout_session_id = $2) AS existing_order,"
"       (SELECT cs.outcome FROM stripe_webhook.checkout_sessions cs"
"         WHERE cs.id = $2) AS recorded"
"  FROM stripe_webhook.cart_items ci"
"  JOIN stripe_webhook.products p ON p.id = ci.product_id"
" WHERE ci.cart_id = $1"
" ORDER BY p.id"
"   FOR NO KEY UPDATE OF p";

/*
 * $1 user, $2 cart, $3 session, $4 payment intent, $5 status, $6 payment
 * status, $7 currency, $8 subtotal, $9 total, $10 email, $11-$17 shipping,
 * $18 review reason, $19-$23 item arrays (product, quantity, unit amount,
 * shortfall, stock taken), $24 whether the order consumes the cart.
 */
static const char *write_order_sql =
"WITH o AS ("
"  INSERT INTO stripe_webhook.orders"
"    (user_id, cart_id, checkout_session_id, payment_intent_id, status,"
"     payment_status, currency, amount_subtotal, amount_total, customer_email,"
"     shipping_name, shipping_line1, shipping_line2, shipping_city,"
"     shipping_state, shipping_postal_code, shipping_country, review_reason)"
"  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
"          $11, $12, $13, $14, $15, $16, $17, $18)"
"  RETURNING id"
"), i AS ("
"  INSERT INTO stripe_webhook.order_items"
"    (order_id, product_id, quantity, unit_amount, shortfall, stock_taken)"
"  SELECT o.id, u.product_id, u.quantity, u.unit_amount, u.shortfall, u.taken"
"    FROM o, ROWS FROM (pg_catalog.unnest($19), pg_catalog.unnest($20),"
"                       pg_catalog.unnest($21), pg_catalog.unnest($22),"
"                       pg_catalog.unnest($23))"
"         AS u(product_id, quantity, unit_amount, shortfall, taken)"
"), s AS ("
"  UPDATE stripe_webhook.products p SET stock = p.stock - u.taken"
"    FROM o, ROWS FROM (pg_catalog.unnest($19), pg_catalog.unnest($23))"
"         AS u(product_id, taken)"
"   WHERE p.id = u.product_id AND u.taken > 0"
"), c AS ("
"  UPDATE stripe_webhook.carts"
"     SET locked = true,"
"         locked_at = COALESCE(locked_at, pg_catalog.now()),"
"         checkout_session_id = $3"
"    FROM o"
"   WHERE carts.id = $2 AND $24"
"  RETURNING carts.id"
"), n AS ("
"  INSERT INTO stripe_webhook.carts (user_id)"
"  SELECT $1 FROM c"
"  ON CONFLICT (user_id) WHERE NOT locked DO NOTHING"
"  RETURNING id"
")"
"SELECT o.id, (SELECT n.id FROM n) AS new_cart FROM o";

/*
 * FulfilPlan
 *		Return the plan cached in *cache, preparing and keeping it on first
 *		use.  Kept plans survive the transaction; the plan cache revalidates
 *		them when the tables change (e.g. after ANALYZE).  Every statement
 *		here is a key lookup or a set-based write whose best plan does not
 *		depend on the parameter values, so the generic plan is used from the
 *		first call on instead of planning five custom plans first.
 */
SPIPlanPtr
FulfilPlan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * IsCartIdTaken
 *		Is this error a new cart's id colliding with an existing cart?  That
 *		happens when carts were inserted with explicit ids and the id
 *		sequence was not advanced past them.
 */
static bool
IsCartIdTaken(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION &&
		edata->schema_name != NULL && strcmp(edata->schema_name, "stripe_webhook") == 0 &&
		edata->constraint_name != NULL && strcmp(edata->constraint_name, "carts_pkey") == 0;
}

/*
 * FulfilExec
 *		Execute a kept plan (read-write, fresh snapshot per statement) and
 *		insist on the expected SPI_OK_* code.
 *
 * A user's new active cart takes its id from the carts' sequence.  If that
 * id is already taken, the bare unique violation on carts_pkey would leave
 * the shop guessing, so it is raised again (same SQLSTATE, 23505: still a
 * permanent failure for the webhook) saying what is wrong and how to fix it.
 */
void
FulfilExec(SPIPlanPtr plan, Datum *values, const char *nulls, int expected,
		   const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

		if (rc != expected)
			elog(ERROR, "SPI_execute_plan failed for %s: %s", what,
				 SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (!IsCartIdTaken(edata))
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("could not create the user's new active cart: its id is already taken"),
				 errdetail("%s The id sequence of stripe_webhook.carts lags behind ids that were inserted explicitly.",
						   edata->detail ? edata->detail : ""),
				 errhint("Advance it: SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('stripe_webhook.carts', 'id'), max(id)) FROM stripe_webhook.carts; the next retry then succeeds."),
				 err_generic_string(PG_DIAG_SCHEMA_NAME, edata->schema_name),
				 err_generic_string(PG_DIAG_TABLE_NAME, "carts"),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, edata->constraint_name)));
	}
	PG_END_TRY();
}

/*
 * UuidText
 *		Text form of a uuid (palloc'd), for messages.
 */
char *
UuidText(const pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * GetText
 *		Column fnumber of row as a palloc'd C string, or NULL.
 */
static char *
GetText(int row, int fnumber)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  fnumber, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * LockCart
 *		Lock the session's cart row (FOR NO KEY UPDATE) and read it into cart.  A
 *		cart of another user is a SW205 error; a missing cart is reported as
 *		cart->found = false and left to the caller.
 */
void
LockCart(const CheckoutSession *s, LockedCart *cart)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	char	   *owner;
	bool		isnull;

	values[0] = Int64GetDatum(s->cart_id);
	FulfilExec(FulfilPlan(&lock_cart_plan, lock_cart_sql, 1, types),
			   values, NULL, SPI_OK_SELECT, "lock cart");
	memset(cart, 0, sizeof(*cart));
	if (SPI_processed == 0)
		return;
	cart->found = true;
	owner = GetText(0, 1);
	cart->locked = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 2, &isnull));
	cart->session_id = GetText(0, 3);
	if (strcmp(owner, s->user_id) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_WRONG_USER),
				 errmsg("cart belongs to another user"),
				 errdetail("Checkout session \"%s\" names cart %lld and user \"%s\", but the cart belongs to user \"%s\".",
						   s->id, (long long) s->cart_id,
						   SessionDisplayValue(s->user_id), SessionDisplayValue(owner)),
				 errhint("Check the metadata your application sets when it creates the Checkout Session; nothing was changed.")));
}

/*
 * LookupOrder
 *		The order of session_id, if there is one.
 */
bool
LookupOrder(const char *session_id, pg_uuid_t *order_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(session_id);
	FulfilExec(FulfilPlan(&lookup_order_plan, lookup_order_sql, 1, types),
			   values, NULL, SPI_OK_SELECT, "look up order");
	if (SPI_processed == 0)
		return false;
	*order_id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	return true;
}

/*
 * AlreadyProcessed
 *		Report an existing order as the outcome, changing nothing.
 */
static void
AlreadyProcessed(const CheckoutSession *s, const pg_uuid_t *order_id,
				 SessionOutcome *out)
{
	StepLog("checkout session %s already processed: order %s", s->id, UuidText(order_id));
	out->has_order = true;
	out->order_id = *order_id;
	out->message = "already processed";
}

/*
 * AddReview
 *		Flag the order for review, with a reason (stored and logged) and a
 *		hint for staff (logged).
 */
static void
AddReview(Review *review, const char *hint, const char *reason)
{
	Assert(review->n < MAX_REVIEW_REASONS);
	review->reason[review->n] = reason;
	review->hint[review->n] = hint;
	review->n++;
}

/*
 * NullableText
 *		A text Datum for s, setting nulls[i] when s is NULL.
 */
static Datum
NullableText(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

/*
 * FulfilLocked
 *		The checkout.session.completed path once the session's cart row is
 *		locked (steps 2-8 of the contract).  s must carry its details.
 */
void
FulfilLocked(const CheckoutSession *s, const LockedCart *cart, SessionOutcome *out)
{
	Oid			line_types[2] = {INT8OID, TEXTOID};
	Oid			write_types[24] = {
		TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8ARRAYOID, INT4ARRAYOID,
		INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, BOOLOID
	};
	Datum		values[24];
	char		nulls[24];
	Review		review = {0};
	pg_uuid_t	order_id;
	bool		isnull;
	bool		take_stock = true;
	bool		overflow = false;
	const char *cart_currency = NULL;
	bool		mixed_currency = false;
	int64		subtotal = 0;
	StringInfoData shortfalls;
	int			nitems;
	int			i;
	Datum	   *product_ids;
	Datum	   *quantities;
	Datum	   *unit_amounts;
	Datum	   *shortfall_d;
	Datum	   *taken_d;
	char	   *recorded;
	const char *status;
	int64		new_cart = 0;
	bool		new_cart_null;

	/* A fulfilment by this very session locked the cart: done already */
	if (cart->locked && cart->session_id != NULL &&
		strcmp(cart->session_id, s->id) == 0 && LookupOrder(s->id, &order_id))
	{
		AlreadyProcessed(s, &order_id, out);
		return;
	}

	/* Step 2: in a snapshot taken after the cart lock, existing order etc. */
	values[0] = Int64GetDatum(s->cart_id);
	values[1] = CStringGetTextDatum(s->id);
	FulfilExec(FulfilPlan(&cart_lines_plan, cart_lines_sql, 2, line_types),
			   values, NULL, SPI_OK_SELECT, "read cart lines");
	nitems = (int) SPI_processed;
	if (nitems == 0)
	{
		if (LookupOrder(s->id, &order_id))
		{
			AlreadyProcessed(s, &order_id, out);
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_EMPTY),
				 errmsg("cart has no items"),
				 errdetail("Checkout session \"%s\" names cart %lld of user \"%s\", which has no items.",
						   s->id, (long long) s->cart_id, SessionDisplayValue(s->user_id)),
				 errhint("Check that the application creates the Checkout Session from the cart it names; nothing was changed.")));
	}
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);

		if (!isnull)
		{
			order_id = *DatumGetUUIDP(d);
			AlreadyProcessed(s, &order_id, out);
			return;
		}
	}
	recorded = GetText(0, 7);

	/* Money that must not be dropped, but for which no stock is taken */
	if (recorded != NULL)
	{
		take_stock = false;
		AddReview(&review,
				  "Refund the payment, or fulfil the order by hand if the customer still wants it.",
				  psprintf("checkout session completed after it was recorded as %s; no stock was taken",
						   recorded));
	}
	else if (cart->locked && cart->session_id != NULL)
	{
		take_stock = false;
		AddReview(&review,
				  "The customer has paid twice for one cart: refund one of the payments in the Stripe Dashboard.",
				  psprintf("duplicate payment: cart %lld was already checked out by checkout session %s; no stock was taken",
						   (long long) s->cart_id, cart->session_id));
	}

	/* Steps 4-5: price each line, take stock (rows are locked, ascending) */
	product_ids = palloc(nitems * sizeof(Datum));
	quantities = palloc(nitems * sizeof(Datum));
	unit_amounts = palloc(nitems * sizeof(Datum));
	shortfall_d = palloc(nitems * sizeof(Datum));
	taken_d = palloc(nitems * sizeof(Datum));
	initStringInfo(&shortfalls);
	for (i = 0; i < nitems; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		product = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		int32		qty = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		int64		price = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
		char	   *currency = GetText(i, 4);
		int32		stock = DatumGetInt32(SPI_getbinval(row, desc, 5, &isnull));
		int32		taken = 0;
		int64		line;

		if (take_stock)
			taken = Min(stock, qty);
		if (take_stock && taken < qty)
			appendStringInfo(&shortfalls, "%sproduct %lld short by %d of %d",
							 shortfalls.len > 0 ? ", " : "",
							 (long long) product, qty - taken, qty);
		if (pg_mul_s64_overflow(price, qty, &line) ||
			pg_add_s64_overflow(subtotal, line, &subtotal))
			overflow = true;
		if (cart_currency == NULL)
			cart_currency = currency;
		else if (strcmp(cart_currency, currency) != 0)
			mixed_currency = true;
		product_ids[i] = Int64GetDatum(product);
		quantities[i] = Int32GetDatum(qty);
		unit_amounts[i] = Int64GetDatum(price);
		shortfall_d[i] = Int32GetDatum(take_stock ? qty - taken : 0);
		taken_d[i] = Int32GetDatum(taken);
	}
	if (shortfalls.len > 0)
		AddReview(&review,
				  "Restock and ship later, or refund the missing items; the shortfall is recorded on each order item.",
				  psprintf("stock short: %s", shortfalls.data));

	/* Step 6: the money, in the shop's currency */
	if (mixed_currency)
		AddReview(&review, "Price every product in one currency.",
				  "the cart's products are priced in more than one currency");
	else if (strcmp(cart_currency, s->currency) != 0)
		AddReview(&review, "Check the currency the Checkout Session was created with.",
				  psprintf("currency mismatch: the session is in %s but the cart's products are priced in %s",
						   s->currency, cart_currency));
	else if (overflow)
		AddReview(&review, "Check the cart's quantities and the products' prices.",
				  "the cart's subtotal does not fit in a bigint");
	else if (subtotal != s->amount_subtotal)
		AddReview(&review,
				  "Compare the Stripe payment with the cart; prices may have changed after the session was created.",
				  psprintf("amount mismatch: the session's subtotal is %lld %s but the cart's items cost %lld %s",
						   (long long) s->amount_subtotal, s->currency,
						   (long long) subtotal, cart_currency));

	if (s->paid)
		StepLog("payment successful for checkout session %s (cart %lld, user %s)",
				s->id, (long long) s->cart_id, SessionDisplayValue(s->user_id));
	else
		StepLog("payment pending for checkout session %s (cart %lld, user %s): payment_status is %s",
				s->id, (long long) s->cart_id, SessionDisplayValue(s->user_id),
				s->payment_status);

	/* Steps 3, 4, 5 and 7 in one statement */
	status = review.n > 0 ? "needs_review" : (s->paid ? "confirmed" : "pending");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(s->user_id);
	values[1] = Int64GetDatum(s->cart_id);
	values[2] = CStringGetTextDatum(s->id);
	values[3] = NullableText(s->payment_intent, nulls, 3);
	values[4] = CStringGetTextDatum(status);
	values[5] = CStringGetTextDatum(s->paid ? "paid" : "unpaid");
	values[6] = CStringGetTextDatum(s->currency);
	values[7] = Int64GetDatum(s->amount_subtotal);
	values[8] = Int64GetDatum(s->amount_total);
	values[9] = NullableText(s->email, nulls, 9);
	values[10] = NullableText(s->ship.name, nulls, 10);
	values[11] = NullableText(s->ship.line1, nulls, 11);
	values[12] = NullableText(s->ship.line2, nulls, 12);
	values[13] = NullableText(s->ship.city, nulls, 13);
	values[14] = NullableText(s->ship.state, nulls, 14);
	values[15] = NullableText(s->ship.postal_code, nulls, 15);
	values[16] = NullableText(s->ship.country, nulls, 16);
	if (review.n > 0)
	{
		StringInfoData r;

		initStringInfo(&r);
		for (i = 0; i < review.n; i++)
			appendStringInfo(&r, "%s%s", i > 0 ? "; " : "", review.reason[i]);
		values[17] = CStringGetTextDatum(r.data);
	}
	else
		nulls[17] = 'n';
	values[18] = PointerGetDatum(construct_array_builtin(product_ids, nitems, INT8OID));
	values[19] = PointerGetDatum(construct_array_builtin(quantities, nitems, INT4OID));
	values[20] = PointerGetDatum(construct_array_builtin(unit_amounts, nitems, INT8OID));
	values[21] = PointerGetDatum(construct_array_builtin(shortfall_d, nitems, INT4OID));
	values[22] = PointerGetDatum(construct_array_builtin(taken_d, nitems, INT4OID));
	values[23] = BoolGetDatum(take_stock);
	FulfilExec(FulfilPlan(&write_order_plan, write_order_sql, 24, write_types),
			   values, nulls, SPI_OK_SELECT, "write order");

	if (SPI_processed != 1)
		elog(ERROR, "order of checkout session \"%s\" was not created", s->id);
	order_id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	new_cart = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &new_cart_null));

	/* Step 8: log what happened */
	if (take_stock)
	{
		if (new_cart_null)
			StepLog("cart %lld locked for checkout session %s; user %s already has an active cart",
					(long long) s->cart_id, s->id, SessionDisplayValue(s->user_id));
		else
			StepLog("cart %lld locked for checkout session %s; new active cart %lld for user %s",
					(long long) s->cart_id, s->id, (long long) new_cart,
					SessionDisplayValue(s->user_id));
	}
	StepLog("order %s created with %d items for checkout session %s (status %s, payment %s)",
			UuidText(&order_id), nitems, s->id, status, s->paid ? "paid" : "unpaid");
	for (i = 0; i < review.n; i++)
		ereport(WARNING,
				(errmsg("order %s for checkout session %s needs review",
						UuidText(&order_id), s->id),
				 errdetail("Reason: %s.", review.reason[i]),
				 errhint("%s", review.hint[i])));

	out->has_order = true;
	out->order_id = order_id;
	out->message = review.n > 0 ? "order created, needs review" : "order created";
}

/*
 * CheckoutSessionCompleted
 *		checkout.session.completed: validate, lock the cart, fulfil.  See
 *		fulfil.h.
 */
void
CheckoutSessionCompleted(Jsonb *session, SessionOutcome *out)
{
	CheckoutSession s;
	LockedCart	cart;
	pg_uuid_t	order_id;

	memset(out, 0, sizeof(*out));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Step 1: everything is validated before anything is locked */
	ParseSessionIdentity(session, &s);
	ParseSessionDetails(session, &s);

	LockCart(&s, &cart);
	if (!cart.found)
	{
		if (LookupOrder(s.id, &order_id))
			AlreadyProcessed(&s, &order_id, out);
		else
			ereport(ERROR,
					(errcode(ERRCODE_SW_CART_NOT_FOUND),
					 errmsg("cart does not exist"),
					 errdetail("Checkout session \"%s\" names cart %lld of user \"%s\", which is not in stripe_webhook.carts.",
							   s.id, (long long) s.cart_id, SessionDisplayValue(s.user_id)),
					 errhint("Check the metadata your application sets when it creates the Checkout Session; nothing was changed.")));
	}
	else
		FulfilLocked(&s, &cart, out);

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/* SQL function: stripe_fulfill_session(session jsonb) RETURNS uuid */
PG_FUNCTION_INFO_V1(stripe_fulfill_session);

Datum
stripe_fulfill_session(PG_FUNCTION_ARGS)
{
	SessionOutcome out;
	pg_uuid_t  *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_SW_NOT_A_SESSION),
				 errmsg("checkout session must not be null"),
				 errhint("Pass event.data.object of a checkout.session.completed event.")));

	CheckoutSessionCompleted(PG_GETARG_JSONB_P(0), &out);
	if (!out.has_order)
		elog(ERROR, "checkout session fulfilment produced no order");
	result = palloc(sizeof(pg_uuid_t));
	*result = out.order_id;
	PG_RETURN_UUID_P(result);
}

/*
 * SQL function: stripe_apply_session_event(event_type text, session jsonb)
 * RETURNS jsonb
 *
 * Run one checkout.session.* event through the state machine, as the webhook
 * handler does after verifying and recording the event.  Returns
 * {"order_id": uuid or null, "message": text}.
 */
PG_FUNCTION_INFO_V1(stripe_apply_session_event);

Datum
stripe_apply_session_event(PG_FUNCTION_ARGS)
{
	SessionOutcome out;
	char	   *type;
	Jsonb	   *session;
	JsonbParseState *state = NULL;
	JsonbValue	key;
	JsonbValue	val;
	JsonbValue *res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event type and checkout session must not be null")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	session = PG_GETARG_JSONB_P(1);

	if (strcmp(type, "checkout.session.completed") == 0)
		CheckoutSessionCompleted(session, &out);
	else if (strcmp(type, "checkout.session.async_payment_succeeded") == 0)
		CheckoutSessionAsyncSucceeded(session, &out);
	else if (strcmp(type, "checkout.session.async_payment_failed") == 0)
		CheckoutSessionAsyncFailed(session, &out);
	else if (strcmp(type, "checkout.session.expired") == 0)
		CheckoutSessionExpired(session, &out);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported event type \"%s\"", SessionDisplayValue(type)),
				 errhint("Use checkout.session.completed, checkout.session.async_payment_succeeded, checkout.session.async_payment_failed or checkout.session.expired.")));

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	key.type = jbvString;
	key.val.string.val = "order_id";
	key.val.string.len = strlen("order_id");
	pushJsonbValue(&state, WJB_KEY, &key);
	if (out.has_order)
	{
		val.type = jbvString;
		val.val.string.val = UuidText(&out.order_id);
		val.val.string.len = strlen(val.val.string.val);
	}
	else
		val.type = jbvNull;
	pushJsonbValue(&state, WJB_VALUE, &val);
	key.val.string.val = "message";
	key.val.string.len = strlen("message");
	pushJsonbValue(&state, WJB_KEY, &key);
	val.type = jbvString;
	val.val.string.val = (char *) out.message;
	val.val.string.len = strlen(out.message);
	pushJsonbValue(&state, WJB_VALUE, &val);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
