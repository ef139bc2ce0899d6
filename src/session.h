/*-------------------------------------------------------------------------
 *
 * session.h
 *		Reading and validating a Stripe Checkout Session object (jsonb).
 *
 * Everything the fulfilment needs from event.data.object is copied into a
 * CheckoutSession, after checking its JSON type and range.  Nothing from the
 * payload is trusted: a failure raises ERROR with one of the SW2xx
 * SQLSTATEs (errcodes.h) before anything is locked or written.
 *
 * Internal to the fulfilment module (fulfil.c, fulfil_async.c); the public
 * contract is fulfil.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SESSION_H
#define STRIPE_WEBHOOK_SESSION_H

#include "utils/jsonb.h"

/* Longest Stripe id and metadata value we accept (Stripe: 255 / 500) */
#define SESSION_MAX_ID_LEN			255
#define SESSION_MAX_METADATA_LEN	500

/* A postal address as the order stores it; every field may be NULL */
typedef struct SessionAddress
{
	char	   *name;
	char	   *line1;
	char	   *line2;
	char	   *city;
	char	   *state;
	char	   *postal_code;
	char	   *country;
} SessionAddress;

typedef struct CheckoutSession
{
	/* identity (ParseSessionIdentity) */
	char	   *id;				/* cs_... */
	char	   *user_id;		/* metadata.user_id */
	char	   *cart_id;		/* metadata.cart_id as sent */

	/* details (ParseSessionDetails) */
	char	   *payment_status; /* paid, unpaid or no_payment_required */
	bool		paid;			/* paid or no_payment_required */
	char	   *payment_intent; /* NULL if none */
	char	   *currency;		/* the shop's currency of the amounts below */
	int64		amount_subtotal;	/* in the shop's currency */
	int64		amount_total;	/* in the shop's currency */
	int64		amount_charged; /* the session's own amount_total: what the
								 * customer is charged, in the charge's
								 * currency (refunds count in it) */
	bool		converted;		/* Adaptive Pricing: amounts came from
								 * currency_conversion */
	char	   *email;			/* customer_details.email or customer_email */
	SessionAddress ship;		/* shipping address, see ship_source */
	const char *ship_source;	/* JSON path the address came from, or NULL */
} CheckoutSession;

/* object, id and metadata: what every checkout.session.* event needs */
extern void ParseSessionIdentity(Jsonb *session, CheckoutSession *s);

/*
 * The same, except that a session whose metadata names neither a user nor
 * a cart (no metadata, or neither key) returns false with only s->id set,
 * instead of raising SW202
 */
extern bool ParseSessionIdentityIfNamed(Jsonb *session, CheckoutSession *s);

/* payment status, amounts, currency, email, shipping: what an order needs */
extern void ParseSessionDetails(Jsonb *session, CheckoutSession *s);

/* A short, printable copy of an untrusted string for error messages */
extern char *SessionDisplayValue(const char *value);

#endif							/* STRIPE_WEBHOOK_SESSION_H */
