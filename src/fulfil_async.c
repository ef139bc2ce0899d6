/*-------------------------------------------------------------------------
 *
 * fulfil_async.c
 *		The rest of the Checkout Session state machine: delayed payments
 *		that succeed or fail, and sessions that expire.
 *
 * Events arrive in any order and more than once.  Each handler locks the
 * session's cart first (as the completed path does), then the session's
 * order, so that it serialises with a concurrent fulfilment of the same
 * session, and decides from the order's current state:
 *
 *	  async_payment_succeeded  unpaid order -> paid (pending -> confirmed);
 *							   no order yet -> fulfil as paid
 *	  async_payment_failed	   unpaid order -> cancelled/failed, stock
 *							   returned, items back in the user's active
 *							   cart; no order -> failure recorded
 *	  expired				   recorded; an unpaid order is cancelled as
 *							   above (payment stays unpaid)
 *
 * Contradictions (a failure or expiry reported for a paid order, a success
 * for a cancelled one) never drop money: the order is flagged needs_review
 * with the reason, and a WARNING is logged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "errcodes.h"
#include "fulfil.h"
#include "fulfil_int.h"
#include "session.h"
#include "stripe_webhook.h"

/* How often to retry finding or creating the user's active cart */
#define ACTIVE_CART_TRIES 5

static void EndEvent(void);

static SPIPlanPtr lock_order_plan = NULL;
static SPIPlanPtr mark_paid_plan = NULL;
static SPIPlanPtr flag_plan = NULL;
static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr find_active_plan = NULL;
static SPIPlanPtr create_active_plan = NULL;
static SPIPlanPtr lock_products_plan = NULL;
static SPIPlanPtr cancel_plan = NULL;
static SPIPlanPtr restore_plan = NULL;

static const char *lock_order_sql =
"SELECT id, status, payment_status, review_reason"
"  FROM stripe_webhook.orders WHERE checkout_session_id = $1 FOR NO KEY UPDATE";

static const char *mark_paid_sql =
"UPDATE stripe_webhook.orders"
"   SET payment_status = 'paid',"
"       status = CASE WHEN status = 'pending' THEN 'confirmed' ELSE status END,"
"       updated_at = pg_catalog.now()"
" WHERE id = $1";

static const char *flag_sql =
"UPDATE stripe_webhook.orders"
"   SET status = 'needs_review', payment_status = $2,"
"       review_reason = CASE WHEN review_reason IS NULL THEN $3"
"                            ELSE review_reason || '; ' || $3 END,"
"       updated_at = pg_catalog.now()"
" WHERE id = $1";

static const char *record_sql =
"INSERT INTO stripe_webhook.checkout_sessions (id, cart_id, user_id, outcome, order_id)"
" VALUES ($1, $2, $3, $4, $5)"
" ON CONFLICT (id) DO NOTHING";

static const char *find_active_sql =
"SELECT id FROM stripe_webhook.carts WHERE user_id = $1 AND NOT locked FOR NO KEY UPDATE";

static const char *create_active_sql =
"INSERT INTO stripe_webhook.carts (user_id) VALUES ($1)"
" ON CONFLICT (user_id) WHERE NOT locked DO NOTHING RETURNING id";

/*
 * Every product of the order, not only those holding stock, in ascending id
 * order: putting the items back into a cart checks the cart_items foreign
 * key (FOR KEY SHARE on each product), which must not wait behind a
 * FOR UPDATE lock on a lower product id while we hold a higher one.
 */
static const char *lock_products_sql =
"SELECT p.id FROM stripe_webhook.products p"
" WHERE p.id IN (SELECT oi.product_id FROM stripe_webhook.order_items oi"
"                 WHERE oi.order_id = $1)"
" ORDER BY p.id FOR NO KEY UPDATE";

/* the order's stock goes back; its lines then hold nothing */
static const char *cancel_sql =
"WITH r AS ("
"  UPDATE stripe_webhook.products p SET stock = p.stock + oi.stock_taken"
"    FROM stripe_webhook.order_items oi"
"   WHERE oi.order_id = $1 AND oi.product_id = p.id AND oi.stock_taken > 0"
"), z AS ("
"  UPDATE stripe_webhook.order_items SET stock_taken = 0"
"   WHERE order_id = $1 AND stock_taken > 0"
")"
"UPDATE stripe_webhook.orders"
"   SET status = 'cancelled', payment_status = $2, updated_at = pg_catalog.now()"
" WHERE id = $1";

/* merge the order's lines into the active cart $2 */
static const char *restore_sql =
"INSERT INTO stripe_webhook.cart_items AS ci (cart_id, product_id, quantity)"
" SELECT $2, oi.product_id, oi.quantity"
"   FROM stripe_webhook.order_items oi WHERE oi.order_id = $1"
" ON CONFLICT (cart_id, product_id) DO UPDATE"
"   SET quantity = LEAST(ci.quantity::bigint + excluded.quantity, 2147483647)::integer";

/*
 * LockOrder
 *		Lock and read the session's order, if any.
 */
static void
LockOrder(const char *session_id, LockedOrder *order)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	memset(order, 0, sizeof(*order));
	values[0] = CStringGetTextDatum(session_id);
	FulfilExec(FulfilPlan(&lock_order_plan, lock_order_sql, 1, types),
			   values, NULL, SPI_OK_SELECT, "lock order");
	if (SPI_processed == 0)
		return;
	order->found = true;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	order->id = *DatumGetUUIDP(d);
	order->status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	order->payment_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	order->review_reason = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
}

/*
 * BeginEvent
 *		Common start of every handler: validate the session's identity,
 *		connect to SPI, lock the cart (SW205 if it is another user's) and
 *		the session's order.
 *
 *		release_only is for the events that only release what a session
 *		holds (a failed payment, an expiry).  For them a session whose
 *		metadata names neither a user nor a cart, and that has no order,
 *		comes from elsewhere (a Payment Link, another integration on the
 *		same Stripe account): nothing here holds anything for it, so instead
 *		of failing on every one of Stripe's retries the event is ignored.
 *		BeginEvent then sets out->ignored, closes SPI and returns false.
 *		Otherwise it returns true, and the caller ends with EndEvent().
 */
static bool
BeginEvent(Jsonb *session, bool release_only, CheckoutSession *s,
		   LockedCart *cart, LockedOrder *order, SessionOutcome *out)
{
	bool		named = true;

	if (release_only)
		named = ParseSessionIdentityIfNamed(session, s);
	else
		ParseSessionIdentity(session, s);
	memset(out, 0, sizeof(*out));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!named)
	{
		LockOrder(s->id, order);
		if (order->found)
			ParseSessionIdentity(session, s);	/* contradictory: SW202 says why */
		out->ignored = true;
		out->message = "ignored: the checkout session names no cart (no metadata.user_id or metadata.cart_id)";
		StepLog("checkout session %s names no cart: nothing to release", s->id);
		EndEvent();
		return false;
	}
	LockCart(s, cart);
	LockOrder(s->id, order);
	if (order->found)
	{
		out->has_order = true;
		out->order_id = order->id;
	}
	return true;
}

/*
 * EndEvent
 *		Close the SPI connection opened by BeginEvent.
 */
static void
EndEvent(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * AlreadyProcessed
 *		The event changes nothing: log it and answer "already processed".
 */
static void
AlreadyProcessed(const CheckoutSession *s, const LockedOrder *order, SessionOutcome *out)
{
	StepLog("checkout session %s already processed: order %s", s->id, UuidText(&order->id));
	out->message = "already processed";
}

/*
 * FlagOrder
 *		Set the order needs_review with payment_status and one more reason,
 *		and log a WARNING.  Repeating the same reason is a no-op.
 */
static void
FlagOrder(const CheckoutSession *s, const LockedOrder *order,
		  const char *payment_status, const char *reason, const char *hint,
		  SessionOutcome *out)
{
	Oid			types[3] = {UUIDOID, TEXTOID, TEXTOID};
	Datum		values[3];

	if (order->review_reason != NULL && strstr(order->review_reason, reason) != NULL)
	{
		AlreadyProcessed(s, order, out);
		return;
	}
	values[0] = UUIDPGetDatum(&order->id);
	values[1] = CStringGetTextDatum(payment_status);
	values[2] = CStringGetTextDatum(reason);
	FulfilExec(FulfilPlan(&flag_plan, flag_sql, 3, types), values, NULL,
			   SPI_OK_UPDATE, "flag order");
	ereport(WARNING,
			(errmsg("order %s for checkout session %s needs review", UuidText(&order->id), s->id),
			 errdetail("Reason: %s.", reason),
			 errhint("%s", hint)));
	out->message = "order flagged for review";
}

/*
 * RecordSession
 *		Remember that the session expired or its payment failed (first
 *		outcome wins), so that a late completed event takes no stock.
 */
static void
RecordSession(const CheckoutSession *s, const char *outcome, const LockedOrder *order)
{
	Oid			types[5] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, UUIDOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(s->id);
	values[1] = Int64GetDatum(s->cart_id);
	values[2] = CStringGetTextDatum(s->user_id);
	values[3] = CStringGetTextDatum(outcome);
	if (order->found)
		values[4] = UUIDPGetDatum(&order->id);
	else
		nulls[4] = 'n';
	FulfilExec(FulfilPlan(&record_plan, record_sql, 5, types), values, nulls,
			   SPI_OK_INSERT, "record session");
	StepLog("checkout session %s recorded as %s", s->id, outcome);
}

/*
 * LockActiveCart
 *		Find and lock the user's active (unlocked) cart, creating one if the
 *		user has none.  Retries when a concurrent transaction creates or
 *		locks the active cart in between.
 */
static int64
LockActiveCart(const CheckoutSession *s)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int			try;

	values[0] = CStringGetTextDatum(s->user_id);
	for (try = 0; try < ACTIVE_CART_TRIES; try++)
	{
		FulfilExec(FulfilPlan(&find_active_plan, find_active_sql, 1, types),
				   values, NULL, SPI_OK_SELECT, "find active cart");
		if (SPI_processed == 0)
			FulfilExec(FulfilPlan(&create_active_plan, create_active_sql, 1, types),
					   values, NULL, SPI_OK_INSERT_RETURNING, "create active cart");
		if (SPI_processed > 0)
			return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("could not find or create an active cart for user \"%s\"",
					SessionDisplayValue(s->user_id)),
			 errdetail("While handling checkout session \"%s\", the user's active cart kept changing.", s->id),
			 errhint("Retry; Stripe redelivers the event.")));
	return 0;					/* keep compiler quiet */
}

/*
 * CancelOrder
 *		Cancel an unpaid order: its stock goes back (products locked in
 *		ascending id order) and, if it consumed its cart, its items are
 *		merged into the user's active cart.
 */
static void
CancelOrder(const CheckoutSession *s, const LockedCart *cart,
			const LockedOrder *order, const char *payment_status)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Oid			restore_types[2] = {UUIDOID, INT8OID};
	Datum		values[2];
	bool		restore;
	int64		active = 0;

	/* the order consumed the cart only if its fulfilment locked it */
	restore = cart->found && cart->session_id != NULL &&
		strcmp(cart->session_id, s->id) == 0;
	if (restore)
		active = LockActiveCart(s);

	values[0] = UUIDPGetDatum(&order->id);
	FulfilExec(FulfilPlan(&lock_products_plan, lock_products_sql, 1, types),
			   values, NULL, SPI_OK_SELECT, "lock products");
	values[1] = CStringGetTextDatum(payment_status);
	FulfilExec(FulfilPlan(&cancel_plan, cancel_sql, 2, types), values, NULL,
			   SPI_OK_UPDATE, "cancel order");
	StepLog("order %s of checkout session %s cancelled (payment %s); its stock was returned",
			UuidText(&order->id), s->id, payment_status);

	if (restore)
	{
		values[1] = Int64GetDatum(active);
		FulfilExec(FulfilPlan(&restore_plan, restore_sql, 2, restore_types),
				   values, NULL, SPI_OK_INSERT, "restore cart");
		StepLog("items of order %s put back into active cart %lld of user %s",
				UuidText(&order->id), (long long) active, SessionDisplayValue(s->user_id));
	}
}

/*
 * CheckoutSessionAsyncSucceeded
 *		checkout.session.async_payment_succeeded.  See fulfil.h.
 */
void
CheckoutSessionAsyncSucceeded(Jsonb *session, SessionOutcome *out)
{
	CheckoutSession s;
	LockedCart	cart;
	LockedOrder order;
	Oid			types[1] = {UUIDOID};
	Datum		values[1];

	(void) BeginEvent(session, false, &s, &cart, &order, out);
	if (!order.found)
	{
		/* completed has not been seen: fulfil from this session, as paid */
		ParseSessionDetails(session, &s);
		s.paid = true;
		s.payment_status = "paid";
		if (!cart.found)
			ereport(ERROR,
					(errcode(ERRCODE_SW_CART_NOT_FOUND),
					 errmsg("cart does not exist"),
					 errdetail("Checkout session \"%s\" names cart %lld of user \"%s\", which is not in stripe_webhook.carts.",
							   s.id, (long long) s.cart_id, SessionDisplayValue(s.user_id)),
					 errhint("Check the metadata your application sets when it creates the Checkout Session; nothing was changed.")));
		FulfilLocked(&s, &cart, out);
	}
	else if (strcmp(order.status, "cancelled") == 0 &&
			 strcmp(order.payment_status, "paid") != 0)
		FlagOrder(&s, &order, "paid",
				  "payment succeeded after the order was cancelled; its stock was returned",
				  "Refund the payment, or fulfil the order by hand if the customer still wants it.",
				  out);
	else if (strcmp(order.payment_status, "unpaid") == 0)
	{
		values[0] = UUIDPGetDatum(&order.id);
		FulfilExec(FulfilPlan(&mark_paid_plan, mark_paid_sql, 1, types),
				   values, NULL, SPI_OK_UPDATE, "mark order paid");
		StepLog("payment successful for checkout session %s: order %s is paid%s",
				s.id, UuidText(&order.id),
				strcmp(order.status, "pending") == 0 ? " and confirmed" : " (still needs review)");
		out->message = "payment confirmed";
	}
	else
		AlreadyProcessed(&s, &order, out);
	EndEvent();
}

/*
 * CheckoutSessionAsyncFailed
 *		checkout.session.async_payment_failed.  See fulfil.h.
 */
void
CheckoutSessionAsyncFailed(Jsonb *session, SessionOutcome *out)
{
	CheckoutSession s;
	LockedCart	cart;
	LockedOrder order;

	if (!BeginEvent(session, true, &s, &cart, &order, out))
		return;
	if (!order.found)
	{
		RecordSession(&s, "payment_failed", &order);
		out->message = "payment failure recorded";
	}
	else if (strcmp(order.payment_status, "unpaid") == 0 &&
			 strcmp(order.status, "cancelled") != 0)
	{
		RecordSession(&s, "payment_failed", &order);
		CancelOrder(&s, &cart, &order, "failed");
		out->message = "order cancelled";
	}
	else if (strcmp(order.payment_status, "paid") == 0)
		FlagOrder(&s, &order, "paid",
				  "async payment failure reported for an order that is paid",
				  "Check the payment in the Stripe Dashboard before shipping.", out);
	else
		AlreadyProcessed(&s, &order, out);
	EndEvent();
}

/*
 * CheckoutSessionExpired
 *		checkout.session.expired.  See fulfil.h.
 */
void
CheckoutSessionExpired(Jsonb *session, SessionOutcome *out)
{
	CheckoutSession s;
	LockedCart	cart;
	LockedOrder order;

	if (!BeginEvent(session, true, &s, &cart, &order, out))
		return;
	RecordSession(&s, "expired", &order);
	if (!order.found)
		out->message = "expiry recorded";
	else if (strcmp(order.payment_status, "unpaid") == 0 &&
			 strcmp(order.status, "cancelled") != 0)
	{
		CancelOrder(&s, &cart, &order, "unpaid");
		out->message = "order cancelled";
	}
	else if (strcmp(order.payment_status, "paid") == 0)
		FlagOrder(&s, &order, "paid",
				  "checkout session reported expired but its order is paid",
				  "Check the payment in the Stripe Dashboard before shipping.", out);
	else
		AlreadyProcessed(&s, &order, out);
	EndEvent();
}
