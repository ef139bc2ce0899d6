/*-------------------------------------------------------------------------
 *
 * fulfil.c
 *		stripe_fulfill_session(): turn a completed Checkout Session into an
 *		order in the shop's tables, exactly once, inside the caller's
 *		transaction; and the start every checkout.session.* event shares
 *		(the user's lock, the cart's lock, the session's order).  The
 *		completed path itself is fulfil_completed.c.
 *
 * Exactly once: every event of a session takes the user's lock and the
 * session's cart first, and the read runs in a snapshot taken after them,
 * so a second delivery (concurrent or not) finds the first one's order and
 * returns it.  The session's row in stripe_webhook.checkout_sessions is the
 * backstop: the write claims it for one order only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil.h"
#include "fulfil_int.h"
#include "payments.h"
#include "session.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

/* Advisory lock class of the per-user locks ("swus") */
#define USER_LOCK_CLASS	0x73777573

/*
 * KeyError
 *		SW203: a metadata id does not fit the bound key column.
 */
static void
KeyError(SessionEvent *ev, ShopField f, const char *key, const char *value)
{
	const BoundColumn *col = &ev->b->field[f];
	const char *expected;

	if (col->tc == TC_INT)
		expected = psprintf("a decimal number from 1 to " INT64_FORMAT, col->max);
	else
		expected = "a uuid";
	ereport(ERROR,
			(errcode(ERRCODE_SW_METADATA_INVALID),
			 errmsg("metadata.%s of checkout session is not a valid %s id", key,
					f == F_CART_ID ? "cart" : "user"),
			 errdetail("Checkout session \"%s\" (user \"%s\") has metadata.%s \"%s\"; %s is expected.",
					   ev->s.id, SessionDisplayValue(ev->s.user_id), key,
					   SessionDisplayValue(value), expected),
			 errhint("Set metadata.%s to the id of the %s in %s when creating the Checkout Session.",
					 key, f == F_CART_ID ? "cart" : "cart's user",
					 ev->b->table_name[ROLE_CARTS])));
}

/*
 * LockUser
 *		Take the transaction-level advisory lock of the session's user: it
 *		serialises the events of one user's sessions, which may find or
 *		create the user's active cart, and the user's stock holds.
 */
void
LockUser(const char *user_key)
{
	LockTextKey((int32) USER_LOCK_CLASS, user_key);
}

/*
 * TryLockUser
 *		See fulfil_int.h.
 */
bool
TryLockUser(const char *user_key)
{
	return TryLockTextKey((int32) USER_LOCK_CLASS, user_key);
}

/*
 * LockCart
 *		Lock the session's cart row and read it into ev->cart.  A cart of
 *		another user is a SW205 error; a missing cart is reported as
 *		found = false and left to the caller.
 */
static void
LockCart(SessionEvent *ev)
{
	Datum		values[LC_NPARAMS];

	values[LC_CART] = CStringGetTextDatum(ev->cart_key);
	values[LC_USER] = CStringGetTextDatum(ev->user_key);
	ShopRun(ev->b, STMT_LOCK_CART, values, NULL, SPI_OK_SELECT);
	memset(&ev->cart, 0, sizeof(ev->cart));
	if (SPI_processed == 0)
		return;
	ev->cart.found = true;
	ev->cart.locked = SpiBool(0, 3);
	ev->cart.consumed_by = SpiText(0, 4);
	if (!SpiBool(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_WRONG_USER),
				 errmsg("cart belongs to another user"),
				 errdetail("Checkout session \"%s\" names cart %s and user \"%s\", but the cart belongs to user \"%s\".",
						   ev->s.id, ev->cart_key, SessionDisplayValue(ev->s.user_id),
						   SessionDisplayValue(SpiText(0, 2))),
				 errhint("Check the metadata your application sets when it creates the Checkout Session; nothing was changed.")));
}

/*
 * LockOrder
 *		See fulfil_int.h.
 */
void
LockOrder(SessionEvent *ev)
{
	Datum		values[LK_NPARAMS];

	memset(&ev->order, 0, sizeof(ev->order));
	values[LK_SESSION] = CStringGetTextDatum(ev->s.id);
	ShopRun(ev->b, STMT_LOCK_ORDER, values, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return;
	ev->order.found = true;
	ev->order.id = SpiText(0, 1);
	ev->order.status_word = SpiText(0, 2);
	ev->order.state = ShopOrderState(ev->b, ev->order.status_word);
	ev->order.payment = PaymentStateFromName(SpiText(0, 3));
	ev->order.review_reason = SpiText(0, 4);
	ev->order.consumed_cart = SpiBool(0, 5);
}

/*
 * FlagOrderRow
 *		See fulfil_int.h.
 */
char *
FlagOrderRow(const ShopBinding *b, const char *order_id, const char *session,
			 const char *existing, const char *reason, PaymentState payment,
			 const char *event_id)
{
	Datum		values[FL_NPARAMS];
	char		nulls[FL_NPARAMS];
	char	   *full;

	if (existing != NULL && strstr(existing, reason) != NULL)
		return NULL;
	full = existing == NULL ? pstrdup(reason) : psprintf("%s; %s", existing, reason);
	memset(nulls, ' ', sizeof(nulls));
	values[FL_ORDER] = CStringGetTextDatum(order_id);
	values[FL_SESSION] = CStringGetTextDatum(session);
	values[FL_REASON] = CStringGetTextDatum(full);
	values[FL_PAYMENT] = CStringGetTextDatum(payment_state_names[payment]);
	values[FL_PAYMENT_WORD] = CStringGetTextDatum(b->payment_word[payment]);
	values[FL_STATUS_WORD] = CStringGetTextDatum(b->order_word[ORDER_NEEDS_REVIEW]);
	values[FL_EVENT] = SpiParamText(event_id, nulls, FL_EVENT);
	ShopRun(b, STMT_FLAG, values, nulls, SPI_OK_UPDATE);
	return full;
}

/*
 * BeginSessionEvent
 *		See fulfil_int.h.
 */
void
BeginSessionEvent(SessionEvent *ev, const char *event_id, bool named)
{
	ev->event_id = event_id;
	SpiConnect();
	ev->b = ShopBindingAcquire();
	if (!named)
		return;

	ev->cart_key = ShopKeyCanonical(&ev->b->field[F_CART_ID], ev->s.cart_id);
	if (ev->cart_key == NULL)
		KeyError(ev, F_CART_ID, "cart_id", ev->s.cart_id);
	ev->user_key = ShopKeyCanonical(&ev->b->field[F_CART_USER], ev->s.user_id);
	if (ev->user_key == NULL)
		KeyError(ev, F_CART_USER, "user_id", ev->s.user_id);

	LockUser(ev->user_key);
	LockCart(ev);
}

/*
 * EndSessionEvent
 *		See fulfil_int.h.
 */
void
EndSessionEvent(SessionOutcome *out)
{
	if (out->order_id != NULL)
		out->order_id = SpiCopyOut(out->order_id);
	SpiFinish();
}

/*
 * LookupOrder
 *		See fulfil_int.h.
 */
char *
LookupOrder(SessionEvent *ev)
{
	Datum		values[LO_NPARAMS];

	values[LO_SESSION] = CStringGetTextDatum(ev->s.id);
	ShopRun(ev->b, STMT_LOOKUP_ORDER, values, NULL, SPI_OK_SELECT);
	return SPI_processed == 0 ? NULL : SpiText(0, 1);
}

/*
 * AlreadyProcessed
 *		See fulfil_int.h.
 */
void
AlreadyProcessed(SessionEvent *ev, const char *order_id, SessionOutcome *out)
{
	StepLog("checkout session %s already processed: order %s", ev->s.id, order_id);
	out->order_id = pstrdup(order_id);
	out->message = "already processed";
}

/*
 * CartNotFound
 *		See fulfil_int.h.
 */
void
CartNotFound(SessionEvent *ev)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_CART_NOT_FOUND),
			 errmsg("cart does not exist"),
			 errdetail("Checkout session \"%s\" names cart %s of user \"%s\", which is not in %s.",
					   ev->s.id, ev->cart_key, SessionDisplayValue(ev->s.user_id),
					   ev->b->table_name[ROLE_CARTS]),
			 errhint("Check the metadata your application sets when it creates the Checkout Session; nothing was changed.")));
}

/*
 * CheckoutSessionCompleted
 *		checkout.session.completed: validate, lock, fulfil.  See fulfil.h.
 */
void
CheckoutSessionCompleted(Jsonb *session, const char *event_id, SessionOutcome *out)
{
	SessionEvent ev;
	char	   *order_id;

	memset(out, 0, sizeof(*out));
	memset(&ev, 0, sizeof(ev));

	/* everything is validated before anything is locked */
	ParseSessionIdentity(session, &ev.s);
	ParseSessionDetails(session, &ev.s);

	BeginSessionEvent(&ev, event_id, true);
	if (ev.cart.found)
		FulfilLocked(&ev, out);
	else if ((order_id = LookupOrder(&ev)) != NULL)
		AlreadyProcessed(&ev, order_id, out);
	else
		CartNotFound(&ev);
	EndSessionEvent(out);
}
