/*-------------------------------------------------------------------------
 *
 * guard.h
 *		Connection guard of stripe-webhook-relay: who may connect, how many,
 *		how long a request may take to arrive, and how many body bytes may
 *		be held at once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_GUARD_H
#define RELAY_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "config.h"

/* Where a connection's current request is */
typedef enum ConnPhase
{
	PHASE_HEADERS,				/* waiting for request line + headers */
	PHASE_BODY,					/* headers in, receiving the body */
	PHASE_PROCESSING			/* request complete, being answered */
} ConnPhase;

/* Start the watchdog thread; false if it could not be started */
extern bool GuardStart(const RelayConfig *cfg);

/* Stop the watchdog thread */
extern void GuardStop(void);

/* libmicrohttpd accept policy: allow list, per-address cap, capacity */
extern enum MHD_Result GuardAccept(void *cls, const struct sockaddr *addr,
								   socklen_t addrlen);

/* libmicrohttpd connection notifications: track and untrack connections */
extern void GuardNotify(void *cls, struct MHD_Connection *conn,
						void **socket_context,
						enum MHD_ConnectionNotificationCode code);

/* The request on conn moved to phase (PHASE_HEADERS restarts its clock) */
extern void GuardSetPhase(struct MHD_Connection *conn, ConnPhase phase);

/* Why the guard cut conn off, or NULL */
extern const char *GuardCutReason(struct MHD_Connection *conn);

/* Copy the client address of conn as text into buf */
extern void GuardClientAddress(struct MHD_Connection *conn, char *buf, size_t size);

/*
 * Reserve n bytes of the body budget (--max-body-total); false if they do
 * not fit.  Bodies over 64 KiB may only use three quarters of the budget:
 * the last quarter is kept for bodies of Stripe's size.
 */
extern bool GuardTakeBody(size_t n);

/* Give back n bytes of the body budget */
extern void GuardGiveBody(size_t n);

#endif							/* RELAY_GUARD_H */
