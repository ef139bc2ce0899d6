/*-------------------------------------------------------------------------
 *
 * webhook.h
 *		stripe_handle_webhook(): signature check against the configured
 *		signing secrets, the event inbox (stripe_webhook.events) and the
 *		dispatch of checkout.session.* events to fulfil.h.
 *
 * The SQL-callable functions are stripe_handle_webhook(payload, header) and
 * stripe_replay_event(event_id).  Both answer with a jsonb object whose
 * "status" is the HTTP status a relay sends back to Stripe; the table of
 * statuses is in webhook.c (and the README).  The event envelope is parsed
 * and validated in webhook_event.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_WEBHOOK_H
#define STRIPE_WEBHOOK_WEBHOOK_H

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* HTTP statuses the handler answers with */
#define WEBHOOK_HTTP_OK				200 /* processed, ignored, duplicate */
#define WEBHOOK_HTTP_BAD_REQUEST	400 /* signature or body rejected */
#define WEBHOOK_HTTP_UNPROCESSABLE	422 /* recorded, processing failed */
#define WEBHOOK_HTTP_SERVER_ERROR	500 /* no secret / unexpected failure */
#define WEBHOOK_HTTP_UNAVAILABLE	503 /* transient failure, retry */

/*
 * WebhookResult
 *		What a delivery (or a replay) led to; turned into the returned jsonb.
 *		Strings live in the SPI procedure context of the call.
 */
typedef struct WebhookResult
{
	int			http_status;
	const char *message;
	const char *event_id;		/* NULL until the body parsed as an event */
	const char *event_type;
	const char *order_id;		/* text form of the shop's order id, or NULL */
	const char *sqlstate;		/* failures only: the error's SQLSTATE */
} WebhookResult;

/*
 * StripeEvent
 *		The envelope fields of a Stripe event that the inbox records, plus
 *		data.object, which the checkout.session.* handlers receive.
 */
typedef struct StripeEvent
{
	Jsonb	   *event;			/* the whole event */
	Jsonb	   *object;			/* event.data.object */
	char	   *id;				/* evt_... */
	char	   *type;
	char	   *api_version;	/* NULL if absent or null */
	bool		has_livemode;
	bool		livemode;
	bool		has_created;
	TimestampTz created;
	char	   *session_id;		/* data.object.id of a checkout.session */
} StripeEvent;

/*
 * StripeEventFromJsonb
 *		Check that a parsed body is a Stripe event (object "event", id evt_...,
 *		type, data.object an object; api_version, livemode and created of the
 *		right types when present) and fill *ev.  Returns NULL on success or a
 *		palloc'd sentence saying what is wrong.  Never raises for bad input.
 */
extern const char *StripeEventFromJsonb(Jsonb *event, StripeEvent *ev);

/*
 * WebhookResultToJsonb
 *		{"status": ..., "message": ..., "event_id": ..., "event_type": ...,
 *		"order_id": ..., "sqlstate": ...}, optional keys only when set.
 */
extern Jsonb *WebhookResultToJsonb(const WebhookResult *res);

#endif							/* STRIPE_WEBHOOK_WEBHOOK_H */
