/*-------------------------------------------------------------------------
 *
 * errcodes.h
 *		SQLSTATEs raised by stripe_webhook.
 *
 * Class "SW" is ours (implementation-defined classes start with I-Z).  Each
 * distinct failure a caller may want to tell apart has its own code; the
 * README's SQLSTATE table lists them.  Codes that must never reach a
 * PostgREST caller (40001, 40P01) are not used for application errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_ERRCODES_H
#define STRIPE_WEBHOOK_ERRCODES_H

/* signature verification (stripe_verify_signature_strict) */
#define ERRCODE_SW_SIGNATURE_HEADER		MAKE_SQLSTATE('S','W','1','0','1')	/* cannot extract timestamp and signatures */
#define ERRCODE_SW_SIGNATURE_NO_SCHEME	MAKE_SQLSTATE('S','W','1','0','2')	/* no v1 signatures */
#define ERRCODE_SW_SIGNATURE_TOLERANCE	MAKE_SQLSTATE('S','W','1','0','3')	/* timestamp outside tolerance */
#define ERRCODE_SW_SIGNATURE_MISMATCH	MAKE_SQLSTATE('S','W','1','0','4')	/* no matching signature */
#define ERRCODE_SW_SIGNATURE_NO_PAYLOAD	MAKE_SQLSTATE('S','W','1','0','5')	/* NULL or empty payload */

/* fulfilment: the Checkout Session cannot be turned into an order */
#define ERRCODE_SW_NOT_A_SESSION		MAKE_SQLSTATE('S','W','2','0','1')	/* object is not checkout.session / bad shape */
#define ERRCODE_SW_METADATA_MISSING		MAKE_SQLSTATE('S','W','2','0','2')	/* metadata.user_id / cart_id absent */
#define ERRCODE_SW_METADATA_INVALID		MAKE_SQLSTATE('S','W','2','0','3')	/* not well-formed, out of range */
#define ERRCODE_SW_CART_NOT_FOUND		MAKE_SQLSTATE('S','W','2','0','4')
#define ERRCODE_SW_CART_WRONG_USER		MAKE_SQLSTATE('S','W','2','0','5')
#define ERRCODE_SW_CART_EMPTY			MAKE_SQLSTATE('S','W','2','0','6')
#define ERRCODE_SW_SESSION_INVALID		MAKE_SQLSTATE('S','W','2','0','7')	/* amounts, ids, fields of the wrong type or range */
#define ERRCODE_SW_OBJECT_INVALID		MAKE_SQLSTATE('S','W','2','0','8')	/* charge, refund or dispute of the wrong shape */

/* webhook handler */
#define ERRCODE_SW_EVENT_INVALID		MAKE_SQLSTATE('S','W','3','0','1')	/* body is not a Stripe event */
#define ERRCODE_SW_NO_SECRET			MAKE_SQLSTATE('S','W','3','0','2')	/* no active signing secret */
#define ERRCODE_SW_EVENT_NOT_FOUND		MAKE_SQLSTATE('S','W','3','0','3')	/* stripe_replay_event: unknown id */

/* shop binding */
#define ERRCODE_SW_BINDING_INVALID		MAKE_SQLSTATE('S','W','4','0','1')	/* bind_shop: the document does not fit */
#define ERRCODE_SW_BINDING_STALE		MAKE_SQLSTATE('S','W','4','0','2')	/* a bound table changed after binding */

/* stock holds (reserve_cart, release_hold) */
#define ERRCODE_SW_HOLD_STOCK_SHORT		MAKE_SQLSTATE('S','W','5','0','1')	/* not enough stock to hold the cart */
#define ERRCODE_SW_HOLD_EXPIRY			MAKE_SQLSTATE('S','W','5','0','2')	/* expires_at not 30 minutes to 24 hours ahead */
#define ERRCODE_SW_HOLD_CONFLICT		MAKE_SQLSTATE('S','W','5','0','3')	/* cart checked out, session taken or settled */

/* staff operations on orders */
#define ERRCODE_SW_ORDER_NOT_FOUND		MAKE_SQLSTATE('S','W','6','0','1')	/* restock_order: unknown order */
#define ERRCODE_SW_NOTHING_TO_RESTOCK	MAKE_SQLSTATE('S','W','6','0','2')	/* restock_order: no stock held */

#endif							/* STRIPE_WEBHOOK_ERRCODES_H */
