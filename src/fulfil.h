/*-------------------------------------------------------------------------
 *
 * fulfil.h
 *		The Checkout Session state machine: what each checkout.session.*
 *		event does to the shop's orders, carts and stock, through the active
 *		shop binding (binding.h).
 *
 * Each handler takes the Checkout Session object (event.data.object) and
 * the Stripe event id (NULL when called without one), and runs in the
 * caller's transaction.  It opens and closes its own SPI connection, so it
 * may be called with or without one already open.  Permanent problems (bad
 * metadata, unknown cart, ...) are raised with ereport(ERROR) and a SQLSTATE
 * from errcodes.h; the caller decides whether to trap them in a
 * subtransaction.  Nothing is written when an error is raised.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_FULFIL_H
#define STRIPE_WEBHOOK_FULFIL_H

#include "utils/jsonb.h"

typedef struct SessionOutcome
{
	char	   *order_id;		/* the order this session maps to (text form
								 * of the shop's id), or NULL */
	const char *message;		/* short text for the HTTP reply, e.g.
								 * "order created", "already processed" */
	bool		ignored;		/* nothing to do: the session names no cart
								 * (the webhook records the event as
								 * ignored) */
} SessionOutcome;

/* checkout.session.completed: create the order (idempotent per session) */
extern void CheckoutSessionCompleted(Jsonb *session, const char *event_id,
									 SessionOutcome *out);

/* checkout.session.async_payment_succeeded: pending -> confirmed/paid */
extern void CheckoutSessionAsyncSucceeded(Jsonb *session, const char *event_id,
										  SessionOutcome *out);

/* checkout.session.async_payment_failed: cancel, return stock, restore cart */
extern void CheckoutSessionAsyncFailed(Jsonb *session, const char *event_id,
									   SessionOutcome *out);

/* checkout.session.expired: record, release anything held */
extern void CheckoutSessionExpired(Jsonb *session, const char *event_id,
								   SessionOutcome *out);

#endif							/* STRIPE_WEBHOOK_FULFIL_H */
