/*-------------------------------------------------------------------------
 *
 * fulfil_int.h
 *		Declarations shared by fulfil.c (the completed path) and
 *		fulfil_async.c (async payment succeeded/failed, expired).
 *
 * Not a contract: other modules use fulfil.h only.
 *
 * Lock order, everywhere: the session's cart, then (when a cart is
 * restored) the user's active cart, then product rows in ascending id, then
 * orders.  Keeping to it is what makes concurrent fulfilments deadlock-free.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_FULFIL_INT_H
#define STRIPE_WEBHOOK_FULFIL_INT_H

#include "executor/spi.h"
#include "utils/uuid.h"

#include "fulfil.h"
#include "session.h"

/* The session's cart after LockCart */
typedef struct LockedCart
{
	bool		found;			/* the cart exists (and is now row-locked) */
	bool		locked;			/* carts.locked */
	char	   *session_id;		/* carts.checkout_session_id, or NULL */
} LockedCart;

/* An order after LockOrder */
typedef struct LockedOrder
{
	bool		found;
	pg_uuid_t	id;
	char	   *status;
	char	   *payment_status;
	char	   *review_reason;	/* or NULL */
} LockedOrder;

/* prepare (once per backend) and keep a plan */
extern SPIPlanPtr FulfilPlan(SPIPlanPtr *cache, const char *sql, int nargs,
							 const Oid *argtypes);

/* run a kept plan and insist on one SPI_OK_* result code */
extern void FulfilExec(SPIPlanPtr plan, Datum *values, const char *nulls,
					   int expected, const char *what);

/* lock the session's cart row; SW205 if it belongs to another user */
extern void LockCart(const CheckoutSession *s, LockedCart *cart);

/* the order of a session, if any (no lock) */
extern bool LookupOrder(const char *session_id, pg_uuid_t *order_id);

/* the completed path, once the cart is locked */
extern void FulfilLocked(const CheckoutSession *s, const LockedCart *cart,
						 SessionOutcome *out);

/* text form of a uuid, for messages */
extern char *UuidText(const pg_uuid_t *id);

#endif							/* STRIPE_WEBHOOK_FULFIL_INT_H */
