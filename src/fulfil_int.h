/*-------------------------------------------------------------------------
 *
 * fulfil_int.h
 *		Declarations shared by fulfil.c (the start of every event),
 *		fulfil_completed.c (the completed path) and fulfil_async.c (async
 *		payment succeeded/failed, expired).  fulfil_async.c and
 *		fulfil_completed.c call into fulfil.c, never the reverse (but for
 *		FulfilLocked, which fulfil.c's completed event runs).
 *
 * Not a contract: other modules use fulfil.h only.
 *
 * Lock order, everywhere: the user (a transaction-level advisory lock on
 * the user id), the session's cart, the user's active cart (when a cart is
 * restored), product rows in ascending id order, then orders.  Keeping to it
 * is what makes concurrent fulfilments deadlock-free.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_FULFIL_INT_H
#define STRIPE_WEBHOOK_FULFIL_INT_H

#include "binding.h"
#include "fulfil.h"
#include "session.h"
#include "stripe_webhook.h"

/* The session's cart after LockCart */
typedef struct LockedCart
{
	bool		found;			/* the cart exists (and is now row-locked) */
	bool		locked;			/* the shop's "locked" column */
	char	   *consumed_by;	/* the session whose order locked it, or NULL */
} LockedCart;

/* The session's order after LockOrder */
typedef struct LockedOrder
{
	bool		found;
	char	   *id;				/* text form of the shop's order id */
	OrderState	state;			/* the shop's status word, canonical */
	char	   *status_word;
	PaymentState payment;		/* as the extension keeps it */
	char	   *review_reason;	/* or NULL */
	bool		consumed_cart;	/* the order locked its cart */
} LockedOrder;

/* One event being handled */
typedef struct SessionEvent
{
	const ShopBinding *b;
	CheckoutSession s;
	char	   *cart_key;		/* canonical text of metadata.cart_id */
	char	   *user_key;		/* canonical text of metadata.user_id */
	const char *event_id;		/* Stripe event id or NULL */
	LockedCart	cart;
	LockedOrder order;
} SessionEvent;

/*
 * Start an event whose session ev->s has been parsed: SPI and the binding;
 * then, if the session names its user and cart, the keys checked against
 * the bound key types, the user lock and the cart lock (SW205 if it is
 * another user's).
 */
extern void BeginSessionEvent(SessionEvent *ev, const char *event_id,
							  bool named);

/* the transaction-level advisory lock of a user (canonical id text) */
extern void LockUser(const char *user_key);

/* lock and read the session's order, if any, into ev->order */
extern void LockOrder(SessionEvent *ev);

/*
 * Flag an order for review (STMT_FLAG) with reason added to the reasons it
 * has (existing, or NULL), recording the payment state.  Returns the new
 * reasons; NULL, writing nothing, when the order has that reason already.
 * The caller logs the WARNING.
 */
extern char *FlagOrderRow(const ShopBinding *b, const char *order_id, const char *session,
						  const char *existing, const char *reason, PaymentState payment,
						  const char *event_id);

/* the order of the session, if any (no lock); NULL otherwise */
extern char *LookupOrder(SessionEvent *ev);

/* report an existing order as the outcome, changing nothing */
extern void AlreadyProcessed(SessionEvent *ev, const char *order_id,
							 SessionOutcome *out);

/* SW204: the cart named by the session does not exist */
pg_noreturn extern void CartNotFound(SessionEvent *ev);

/* the completed path, once the cart is locked; s carries its details */
extern void FulfilLocked(SessionEvent *ev, SessionOutcome *out);


/* the same without waiting: false when another transaction holds it */
extern bool TryLockUser(const char *user_key);

/*
 * Release what the sessions still hold (holds.c): their held products locked
 * in id order, the units back to stock, the rows released with the reason.
 * The caller holds the sessions' users' locks.  Returns how many of the
 * sessions held anything.
 */
extern int64 ReleaseSessionHolds(const ShopBinding *b, char **sessions, int n,
								 const char *reason);

/* end the event: SPI_finish, the outcome copied out of SPI's memory */
extern void EndSessionEvent(SessionOutcome *out);

#endif							/* STRIPE_WEBHOOK_FULFIL_INT_H */
