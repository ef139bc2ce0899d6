/*-------------------------------------------------------------------------
 *
 * events.h
 *		The one table of the event types handled and their handlers
 *		(events.c), used by the webhook (webhook.c) and by
 *		stripe_apply_event() / stripe_apply_session_event().
 *
 * Every handler takes the event's data.object (a checkout session, a
 * charge, a refund or a dispute, as the type says), the Stripe event id
 * (NULL when called without one) and fills the outcome.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_EVENTS_H
#define STRIPE_WEBHOOK_EVENTS_H

#include "utils/jsonb.h"

#include "fulfil.h"

typedef void (*EventHandler) (Jsonb *object, const char *event_id,
							  SessionOutcome *out);

/* the handler of an event type, or NULL: the type is not handled */
extern EventHandler FindEventHandler(const char *event_type);

#endif							/* STRIPE_WEBHOOK_EVENTS_H */
