/*-------------------------------------------------------------------------
 *
 * payments.h
 *		Refunds and disputes (payments.c) and staff restocking (restock.c).
 *
 * The handlers have the signature of every event handler (events.h): the
 * event's data.object, the Stripe event id (or NULL) and the outcome.  They
 * run in the caller's transaction, open and close their own SPI connection,
 * and raise SW208 for an object of the wrong shape, before writing
 * anything.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_PAYMENTS_H
#define STRIPE_WEBHOOK_PAYMENTS_H

#include "utils/jsonb.h"

#include "binding.h"
#include "fulfil.h"

/* charge.refunded: the charge's cumulative amount_refunded */
extern void ChargeRefunded(Jsonb *object, const char *event_id, SessionOutcome *out);

/* refund.created / refund.updated / refund.failed: one refund's status */
extern void RefundEvent(Jsonb *object, const char *event_id, SessionOutcome *out);

/* charge.dispute.created / .updated / .closed */
extern void DisputeEvent(Jsonb *object, const char *event_id, SessionOutcome *out);

/*
 * The completed path's hook, right after a new order is written (SPI
 * connected, binding acquired): apply the refunds and disputes kept for its
 * payment intent before the order existed.  Does nothing without a payment
 * intent or kept figures.
 */
extern void PaymentsApplyToNewOrder(const ShopBinding *b, const char *payment_intent,
									const char *event_id);

#endif							/* STRIPE_WEBHOOK_PAYMENTS_H */
