/*-------------------------------------------------------------------------
 *
 * pool.h
 *		A fixed pool of libpq connections shared by the HTTP threads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_POOL_H
#define RELAY_POOL_H

#include <libpq-fe.h>

#include "config.h"

typedef struct Pool Pool;

/* The statements the relay runs (prepared per connection, text parameters) */
typedef enum PoolStatement
{
	POOL_STMT_WEBHOOK,			/* stripe_handle_webhook($1 body, $2 header):
								 * status int, event_id text, reply text */
	POOL_STMT_HEALTH,			/* SELECT 1 */
	POOL_NSTMTS
} PoolStatement;

/* What PoolExec could do */
typedef enum PoolOutcome
{
	POOL_OK,					/* a result came back (maybe an error result) */
	POOL_EXHAUSTED,				/* no connection became free in time */
	POOL_UNAVAILABLE			/* the database could not be reached */
} PoolOutcome;

/* Create the pool and try to open every connection (failures are retried later) */
extern Pool *PoolCreate(const RelayConfig *cfg);

/*
 * Run stmt with its parameters on a pooled connection.  Returns the result
 * (caller PQclear()s it) with *outcome = POOL_OK, or NULL with the reason in
 * *outcome.
 */
extern PGresult *PoolExec(Pool *pool, PoolStatement stmt,
						  const char *const *values, PoolOutcome *outcome);

/* Ask the server to cancel the statements running on checked-out connections */
extern void PoolCancelBusy(Pool *pool);

/* Close every connection and free the pool; no connection may be checked out */
extern void PoolDestroy(Pool *pool);

#endif							/* RELAY_POOL_H */
