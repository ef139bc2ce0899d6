/*-------------------------------------------------------------------------
 *
 * pool.c
 *		A fixed pool of libpq connections shared by the HTTP threads.
 *
 * There are exactly pool_size slots.  A thread checks a slot out under the
 * mutex (waiting on the condition variable at most pool_wait_ms for one to
 * come free), uses its connection without holding the lock, and checks it
 * back in.  A slot whose connection is missing or broken is (re)connected by
 * the thread that checked it out, so a database that was down is picked up
 * again by the next request; a connection found dead when used is replaced
 * and the statement tried once more on the new one.  Connections are only
 * ever closed with PQfinish(), so none leak.
 *
 * The relay's statements are prepared once per connection, on first use
 * (the server then neither parses nor plans them per request: a quarter of
 * its CPU time on a duplicate delivery).  Should the prepared statement go
 * missing (a pooler in front, DISCARD ALL), the connection is replaced.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pool.h"

/* OID of type text: every parameter is sent as text */
#define TEXT_OID 25

/* The statements, by PoolStatement; every parameter is text */
static const struct
{
	const char *name;
	const char *sql;
	int			nparams;
}			statements[] = {
	[POOL_STMT_WEBHOOK] = {"stripe_webhook_relay_webhook",
		"SELECT (r.j ->> 'status')::int, r.j ->> 'event_id', r.j::text "
		"FROM stripe_webhook.stripe_handle_webhook($1, $2) AS r(j)", 2},
	[POOL_STMT_HEALTH] = {"stripe_webhook_relay_health", "SELECT 1", 0},
};

typedef struct PoolSlot
{
	PGconn	   *conn;			/* NULL when not connected */
	PGcancel   *cancel;			/* for PoolCancelBusy; under pool->lock */
	bool		busy;			/* checked out */
	bool		prepared[POOL_NSTMTS];	/* on this connection */
} PoolSlot;

struct Pool
{
	pthread_mutex_t lock;
	pthread_cond_t freed;		/* signalled on every check-in */
	PoolSlot   *slots;
	int			size;
	int			wait_ms;
	bool		down;			/* last connection attempt failed (for logs) */
	char		statement_timeout[64];	/* "SET statement_timeout = N" or "" */
	char		connect_timeout[16];
	const char *keywords[5];
	const char *values[5];
};

/*
 * OneLine
 *		Copy a libpq error message into buf on one line, without the trailing
 *		newline (messages never hold the password: libpq does not echo it).
 */
static void
OneLine(char *buf, size_t size, const char *msg)
{
	size_t		i;

	for (i = 0; i + 1 < size && msg[i] != '\0'; i++)
		buf[i] = (msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t') ? ' ' : msg[i];
	while (i > 0 && buf[i - 1] == ' ')
		i--;
	buf[i] = '\0';
}

/*
 * SetDown
 *		Record whether the database is reachable; log only the transitions so
 *		that an outage gives two lines, not one per request.
 */
static void
SetDown(Pool *pool, bool down, const char *why)
{
	bool		was;

	pthread_mutex_lock(&pool->lock);
	was = pool->down;
	pool->down = down;
	pthread_mutex_unlock(&pool->lock);
	if (down && !was)
		LogLine("database unavailable: %s", why);
	else if (!down && was)
		LogLine("database connection restored");
}

/*
 * NoticeToLog
 *		libpq notice processor: server notices and the FATAL a server sends
 *		when it shuts down go to our log, on one line, not raw to stderr.
 */
static void
NoticeToLog(void *arg, const char *message)
{
	char		msg[512];

	(void) arg;
	OneLine(msg, sizeof(msg), message);
	LogLine("database: %s", msg);
}

/*
 * SlotDisconnect
 *		Close the slot's connection (if any) and forget its cancel handle.
 */
static void
SlotDisconnect(Pool *pool, PoolSlot *slot)
{
	PGcancel   *cancel;

	pthread_mutex_lock(&pool->lock);
	cancel = slot->cancel;
	slot->cancel = NULL;
	pthread_mutex_unlock(&pool->lock);
	if (cancel != NULL)
		PQfreeCancel(cancel);
	if (slot->conn != NULL)
		PQfinish(slot->conn);
	slot->conn = NULL;
	memset(slot->prepared, 0, sizeof(slot->prepared));
}

/*
 * SlotConnect
 *		Make sure the slot holds a working connection: open a new one if it
 *		has none or a broken one, and set the session up.  Returns false
 *		(slot left unconnected) when the database cannot be reached.
 */
static bool
SlotConnect(Pool *pool, PoolSlot *slot)
{
	char		msg[512];
	PGconn	   *conn;
	PGresult   *res;
	PGcancel   *cancel;

	if (slot->conn != NULL && PQstatus(slot->conn) == CONNECTION_OK)
		return true;
	SlotDisconnect(pool, slot);

	conn = PQconnectdbParams(pool->keywords, pool->values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		OneLine(msg, sizeof(msg), conn ? PQerrorMessage(conn) : "out of memory");
		if (conn != NULL)
			PQfinish(conn);
		SetDown(pool, true, msg);
		return false;
	}
	PQsetNoticeProcessor(conn, NoticeToLog, NULL);
	if (pool->statement_timeout[0] != '\0')
	{
		res = PQexec(conn, pool->statement_timeout);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			OneLine(msg, sizeof(msg), PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			SetDown(pool, true, msg);
			return false;
		}
		PQclear(res);
	}

	cancel = PQgetCancel(conn);
	slot->conn = conn;
	pthread_mutex_lock(&pool->lock);
	slot->cancel = cancel;
	pthread_mutex_unlock(&pool->lock);
	SetDown(pool, false, NULL);
	return true;
}

/*
 * Checkout
 *		Take a free slot, waiting at most pool->wait_ms.  NULL on timeout.
 */
static PoolSlot *
Checkout(Pool *pool)
{
	struct timespec deadline;
	PoolSlot   *slot = NULL;
	int			i,
				rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += pool->wait_ms / 1000;
	deadline.tv_nsec += (long) (pool->wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&pool->lock);
	while (slot == NULL && rc != ETIMEDOUT)
	{
		for (i = 0; i < pool->size; i++)
		{
			if (!pool->slots[i].busy)
			{
				slot = &pool->slots[i];
				slot->busy = true;
				break;
			}
		}
		if (slot == NULL)
			rc = pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline);
	}
	pthread_mutex_unlock(&pool->lock);
	return slot;
}

/*
 * Checkin
 *		Give a slot back and wake one waiting thread.
 */
static void
Checkin(Pool *pool, PoolSlot *slot)
{
	pthread_mutex_lock(&pool->lock);
	slot->busy = false;
	pthread_mutex_unlock(&pool->lock);
	/* after the unlock: the woken thread need not wait for our mutex */
	pthread_cond_signal(&pool->freed);
}

/*
 * PoolCreate
 *		Allocate the slots, prepare the connection parameters and open as
 *		many connections as the database allows right now.
 */
Pool *
PoolCreate(const RelayConfig *cfg)
{
	Pool	   *pool = calloc(1, sizeof(Pool));
	pthread_condattr_t attr;
	int			i;

	if (pool == NULL || (pool->slots = calloc(cfg->pool_size, sizeof(PoolSlot))) == NULL)
	{
		LogLine("out of memory");
		exit(1);
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->freed, &attr);
	pthread_condattr_destroy(&attr);
	pool->size = cfg->pool_size;
	pool->wait_ms = cfg->pool_wait_ms;
	if (cfg->statement_timeout_ms > 0)
		snprintf(pool->statement_timeout, sizeof(pool->statement_timeout),
				 "SET statement_timeout = %d", cfg->statement_timeout_ms);
	snprintf(pool->connect_timeout, sizeof(pool->connect_timeout), "%d",
			 cfg->connect_timeout);

	/*
	 * Entries before dbname are defaults the conninfo may override; the one
	 * after it is forced: the body goes to the server byte for byte as UTF-8.
	 */
	pool->keywords[0] = "fallback_application_name";
	pool->values[0] = "stripe-webhook-relay";
	pool->keywords[1] = "connect_timeout";
	pool->values[1] = pool->connect_timeout;
	pool->keywords[2] = "dbname";
	pool->values[2] = cfg->database_url;
	pool->keywords[3] = "client_encoding";
	pool->values[3] = "UTF8";
	pool->keywords[4] = NULL;
	pool->values[4] = NULL;

	for (i = 0; i < pool->size; i++)
		if (!SlotConnect(pool, &pool->slots[i]))
			break;
	return pool;
}

/*
 * Prepared
 *		Make sure stmt is prepared on the slot's connection.  NULL when it is,
 *		else the failed PQprepare() result (the caller's to clear).
 */
static PGresult *
Prepared(PoolSlot *slot, PoolStatement stmt)
{
	static const unsigned int types[2] = {TEXT_OID, TEXT_OID};
	PGresult   *res;

	if (slot->prepared[stmt])
		return NULL;
	res = PQprepare(slot->conn, statements[stmt].name, statements[stmt].sql,
					statements[stmt].nparams, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return res;
	PQclear(res);
	slot->prepared[stmt] = true;
	return NULL;
}

/*
 * StatementMissing
 *		True if res says the prepared statement does not exist (26000).
 */
static bool
StatementMissing(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state != NULL && strcmp(state, "26000") == 0;
}

/*
 * ConnectionLost
 *		True if res is an error libpq made up itself (no SQLSTATE from the
 *		server), as when the server process went away: after a crash reset
 *		a pooled connection that was idle may still report CONNECTION_OK
 *		until it is used, and its first statement fails this way.
 */
static bool
ConnectionLost(const PGresult *res)
{
	return res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR &&
		PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL;
}

/*
 * PoolExec
 *		Check a connection out, run the statement, check it back in.  A
 *		connection that turns out to be dead (the server restarted since it
 *		was last used) or to have lost its prepared statement is replaced
 *		and the statement sent once more; the webhook handler is idempotent,
 *		so a repeat is harmless.
 */
PGresult *
PoolExec(Pool *pool, PoolStatement stmt, const char *const *values,
		 PoolOutcome *outcome)
{
	PoolSlot   *slot;
	PGresult   *res;
	bool		fresh;
	int			attempt;

	slot = Checkout(pool);
	if (slot == NULL)
	{
		*outcome = POOL_EXHAUSTED;
		return NULL;
	}
	for (attempt = 0; attempt < 2; attempt++)
	{
		fresh = (slot->conn == NULL || PQstatus(slot->conn) != CONNECTION_OK);
		if (!SlotConnect(pool, slot))
			break;
		res = Prepared(slot, stmt);
		if (res == NULL)
			res = PQexecPrepared(slot->conn, statements[stmt].name,
								 statements[stmt].nparams, values, NULL, NULL, 0);
		if (PQstatus(slot->conn) != CONNECTION_OK || ConnectionLost(res))
		{
			/* dead: once more on a new connection, unless this one was new */
			PQclear(res);
			SlotDisconnect(pool, slot);
			if (fresh)
				break;
			continue;
		}
		if (attempt == 0 && StatementMissing(res))
		{
			PQclear(res);
			SlotDisconnect(pool, slot);
			continue;
		}
		Checkin(pool, slot);
		*outcome = POOL_OK;
		return res;
	}
	Checkin(pool, slot);
	*outcome = POOL_UNAVAILABLE;
	return NULL;
}

/*
 * PoolCancelBusy
 *		Send a cancel request for every checked-out connection.  Used when
 *		shutdown waited long enough: the blocked requests then answer 503.
 */
void
PoolCancelBusy(Pool *pool)
{
	char		err[256];
	int			i;

	pthread_mutex_lock(&pool->lock);
	for (i = 0; i < pool->size; i++)
		if (pool->slots[i].busy && pool->slots[i].cancel != NULL)
			PQcancel(pool->slots[i].cancel, err, sizeof(err));
	pthread_mutex_unlock(&pool->lock);
}

/*
 * PoolDestroy
 *		Close every connection and free the pool.
 */
void
PoolDestroy(Pool *pool)
{
	int			i;

	for (i = 0; i < pool->size; i++)
		SlotDisconnect(pool, &pool->slots[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->slots);
	free(pool);
}
