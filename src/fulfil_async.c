/*-------------------------------------------------------------------------
 *
 * fulfil_async.c
 *		The rest of the Checkout Session state machine: delayed payments
 *		that succeed or fail, and sessions that expire.
 *
 * Events arrive in any order and more than once.  Each handler takes the
 * user's lock and the session's cart first (as the completed path does),
 * then the session's order, so that it serialises with a concurrent
 * fulfilment of the same session, and decides from the order's state:
 *
 *	  async_payment_succeeded  unpaid order -> paid (pending -> confirmed);
 *							   no order yet -> fulfil as paid
 *	  async_payment_failed	   unpaid order -> cancelled/failed, stock
 *							   returned, items back in the user's active
 *							   cart; no order -> failure recorded, stock
 *							   held for the session released
 *	  expired				   recorded; stock held for the session
 *							   released; an unpaid order is cancelled as
 *							   above (payment stays unpaid)
 *
 * Contradictions (a failure or expiry reported for a paid order, a success
 * for a cancelled one) never drop money: the order is flagged needs_review
 * with the reason, and a WARNING is logged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil.h"
#include "fulfil_int.h"
#include "session.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

/*
 * BeginAsyncEvent
 *		Common start of the handlers here: parse the identity, start the
 *		event, lock the order.
 *
 *		release_only is for the events that only release what a session
 *		holds (a failed payment, an expiry).  For them a session whose
 *		metadata names neither a user nor a cart, and that has no order,
 *		comes from elsewhere (a Payment Link, another integration on the
 *		same Stripe account): nothing here holds anything for it, so instead
 *		of failing on every one of Stripe's retries the event is ignored.
 *		BeginAsyncEvent then sets out->ignored, ends the event and returns
 *		false.  Otherwise it returns true, and the caller ends the event.
 */
static bool
BeginAsyncEvent(Jsonb *session, const char *event_id, bool release_only,
				SessionEvent *ev, SessionOutcome *out)
{
	bool		named = true;

	memset(out, 0, sizeof(*out));
	memset(ev, 0, sizeof(*ev));
	if (release_only)
		named = ParseSessionIdentityIfNamed(session, &ev->s);
	else
		ParseSessionIdentity(session, &ev->s);
	BeginSessionEvent(ev, event_id, named);
	if (!named)
	{
		if (LookupOrder(ev) != NULL)
			ParseSessionIdentity(session, &ev->s);	/* contradictory: SW202 says why */
		out->ignored = true;
		out->message = "ignored: the checkout session names no cart (no metadata.user_id or metadata.cart_id)";
		StepLog("checkout session %s names no cart: nothing to release", ev->s.id);
		EndSessionEvent(out);
		return false;
	}
	LockOrder(ev);
	if (ev->order.found)
		out->order_id = ev->order.id;
	return true;
}

/*
 * FlagOrder
 *		Set the order needs_review with a payment state and one more
 *		reason, and log a WARNING.  Repeating the same reason is a no-op.
 */
static void
FlagOrder(SessionEvent *ev, PaymentState payment, const char *reason,
		  const char *hint, SessionOutcome *out)
{
	LockedOrder *order = &ev->order;

	if (FlagOrderRow(ev->b, order->id, ev->s.id, order->review_reason, reason, payment,
					 ev->event_id) == NULL)
	{
		AlreadyProcessed(ev, order->id, out);
		return;
	}
	ereport(WARNING,
			(errmsg("order %s for checkout session %s needs review", order->id, ev->s.id),
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
RecordSession(SessionEvent *ev, const char *outcome)
{
	Datum		values[RC_NPARAMS];

	values[RC_SESSION] = CStringGetTextDatum(ev->s.id);
	values[RC_CART] = CStringGetTextDatum(ev->cart_key);
	values[RC_USER] = CStringGetTextDatum(ev->user_key);
	values[RC_OUTCOME] = CStringGetTextDatum(outcome);
	ShopRun(ev->b, STMT_RECORD, values, NULL, SPI_OK_INSERT);
	StepLog("checkout session %s recorded as %s", ev->s.id, outcome);
}

/*
 * LockActiveCart
 *		Find and lock the user's active (unlocked) cart, creating one if the
 *		user has none.  The user's lock, held since BeginSessionEvent, keeps
 *		concurrent events of the same user from creating a second one.
 */
static char *
LockActiveCart(SessionEvent *ev)
{
	Datum		values[AC_NPARAMS];

	values[AC_USER] = CStringGetTextDatum(ev->user_key);
	ShopRun(ev->b, STMT_FIND_ACTIVE, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
		return SpiText(0, 1);
	ShopRun(ev->b, STMT_CREATE_ACTIVE, values, NULL, SPI_OK_INSERT_RETURNING);
	if (SPI_processed != 1)
		elog(ERROR, "active cart of user \"%s\" was not created", ev->s.user_id);
	return SpiText(0, 1);
}

/*
 * CancelOrder
 *		Cancel an unpaid order: its stock goes back (products locked in
 *		ascending id order) and, if it consumed its cart, its items are
 *		merged into the user's active cart.
 */
static void
CancelOrder(SessionEvent *ev, PaymentState payment)
{
	const ShopBinding *b = ev->b;
	LockedOrder *order = &ev->order;
	Datum		values[CA_NPARAMS];
	char		nulls[CA_NPARAMS];
	Datum		one[1];
	char	   *active = NULL;

	if (order->consumed_cart)
		active = LockActiveCart(ev);

	one[0] = CStringGetTextDatum(order->id);
	ShopRun(b, STMT_LOCK_PRODUCTS, one, NULL, SPI_OK_SELECT);

	memset(nulls, ' ', sizeof(nulls));
	values[CA_ORDER] = CStringGetTextDatum(order->id);
	values[CA_SESSION] = CStringGetTextDatum(ev->s.id);
	values[CA_PAYMENT] = CStringGetTextDatum(payment_state_names[payment]);
	values[CA_PAYMENT_WORD] = CStringGetTextDatum(b->payment_word[payment]);
	values[CA_STATUS_WORD] = CStringGetTextDatum(b->order_word[ORDER_CANCELLED]);
	values[CA_EVENT] = SpiParamText(ev->event_id, nulls, CA_EVENT);
	ShopRun(b, STMT_CANCEL, values, nulls, SPI_OK_UPDATE);
	StepLog("order %s of checkout session %s cancelled (payment %s); its stock was returned",
			order->id, ev->s.id, payment_state_names[payment]);

	if (active != NULL)
	{
		Datum		restore[RS_NPARAMS];

		restore[RS_ORDER] = CStringGetTextDatum(order->id);
		restore[RS_CART] = CStringGetTextDatum(active);
		ShopRun(b, STMT_RESTORE, restore, NULL, SPI_OK_INSERT);
		StepLog("items of order %s put back into active cart %s of user %s",
				order->id, active, SessionDisplayValue(ev->s.user_id));
	}
}

/*
 * CheckoutSessionAsyncSucceeded
 *		checkout.session.async_payment_succeeded.  See fulfil.h.
 */
void
CheckoutSessionAsyncSucceeded(Jsonb *session, const char *event_id, SessionOutcome *out)
{
	SessionEvent ev;
	LockedOrder *order = &ev.order;

	(void) BeginAsyncEvent(session, event_id, false, &ev, out);
	if (!order->found)
	{
		/* completed has not been seen: fulfil from this session, as paid */
		ParseSessionDetails(session, &ev.s);
		ev.s.paid = true;
		ev.s.payment_status = "paid";
		if (!ev.cart.found)
			CartNotFound(&ev);
		FulfilLocked(&ev, out);
	}
	else if (order->state == ORDER_CANCELLED && order->payment != PAYMENT_PAID)
		FlagOrder(&ev, PAYMENT_PAID,
				  "payment succeeded after the order was cancelled; its stock was returned",
				  "Refund the payment, or fulfil the order by hand if the customer still wants it.",
				  out);
	else if (order->payment == PAYMENT_UNPAID)
	{
		Datum		values[MP_NPARAMS];
		char		nulls[MP_NPARAMS];
		bool		confirm = (order->state == ORDER_PENDING);

		memset(nulls, ' ', sizeof(nulls));
		values[MP_ORDER] = CStringGetTextDatum(order->id);
		values[MP_SESSION] = CStringGetTextDatum(ev.s.id);
		values[MP_STATUS_WORD] = SpiParamText(confirm ? ev.b->order_word[ORDER_CONFIRMED] : NULL,
											  nulls, MP_STATUS_WORD);
		values[MP_PAYMENT_WORD] = CStringGetTextDatum(ev.b->payment_word[PAYMENT_PAID]);
		ShopRun(ev.b, STMT_MARK_PAID, values, nulls, SPI_OK_UPDATE);
		StepLog("payment successful for checkout session %s: order %s is paid%s",
				ev.s.id, order->id, confirm ? " and confirmed" : " (still needs review)");
		out->message = "payment confirmed";
	}
	else
		AlreadyProcessed(&ev, order->id, out);
	EndSessionEvent(out);
}

/*
 * CheckoutSessionAsyncFailed
 *		checkout.session.async_payment_failed.  See fulfil.h.
 */
void
CheckoutSessionAsyncFailed(Jsonb *session, const char *event_id, SessionOutcome *out)
{
	SessionEvent ev;
	LockedOrder *order = &ev.order;

	if (!BeginAsyncEvent(session, event_id, true, &ev, out))
		return;
	if (!order->found)
	{
		RecordSession(&ev, "payment_failed");
		if (ReleaseSessionHolds(ev.b, &ev.s.id, 1, "payment_failed") > 0)
			StepLog("stock held for checkout session %s released", ev.s.id);
		out->message = "payment failure recorded";
	}
	else if (order->payment == PAYMENT_UNPAID && order->state != ORDER_CANCELLED)
	{
		RecordSession(&ev, "payment_failed");
		CancelOrder(&ev, PAYMENT_FAILED);
		out->message = "order cancelled";
	}
	else if (order->payment == PAYMENT_PAID)
		FlagOrder(&ev, PAYMENT_PAID,
				  "async payment failure reported for an order that is paid",
				  "Check the payment in the Stripe Dashboard before shipping.", out);
	else
		AlreadyProcessed(&ev, order->id, out);
	EndSessionEvent(out);
}

/*
 * CheckoutSessionExpired
 *		checkout.session.expired.  See fulfil.h.
 */
void
CheckoutSessionExpired(Jsonb *session, const char *event_id, SessionOutcome *out)
{
	SessionEvent ev;
	LockedOrder *order = &ev.order;

	if (!BeginAsyncEvent(session, event_id, true, &ev, out))
		return;
	RecordSession(&ev, "expired");
	if (ReleaseSessionHolds(ev.b, &ev.s.id, 1, "expired") > 0)
		StepLog("stock held for checkout session %s released", ev.s.id);
	if (!order->found)
		out->message = "expiry recorded";
	else if (order->payment == PAYMENT_UNPAID && order->state != ORDER_CANCELLED)
	{
		CancelOrder(&ev, PAYMENT_UNPAID);
		out->message = "order cancelled";
	}
	else if (order->payment == PAYMENT_PAID)
		FlagOrder(&ev, PAYMENT_PAID,
				  "checkout session reported expired but its order is paid",
				  "Check the payment in the Stripe Dashboard before shipping.", out);
	else
		AlreadyProcessed(&ev, order->id, out);
	EndSessionEvent(out);
}
