/*-------------------------------------------------------------------------
 *
 * http.h
 *		The HTTP side of stripe-webhook-relay (libmicrohttpd).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_HTTP_H
#define RELAY_HTTP_H

#include <stdbool.h>

#include "config.h"
#include "pool.h"

/* Start listening, one thread per client connection; false on failure */
extern bool HttpStart(const RelayConfig *cfg, Pool *pool);

/* Stop accepting connections; requests already in flight go on */
extern void HttpQuiesce(void);

/* Wait until no request is in flight, at most seconds; true if none is */
extern bool HttpWaitIdle(int seconds);

/* Close every connection and stop the threads */
extern void HttpStop(void);

#endif							/* RELAY_HTTP_H */
