/*-------------------------------------------------------------------------
 *
 * http.c
 *		The HTTP side of stripe-webhook-relay, on libmicrohttpd.
 *
 * libmicrohttpd runs one thread per client connection (at most
 * max_connections); a thread that runs a database call blocks until the
 * pool gives it a connection (at most pool_wait_ms) and the call returns.
 * Not its thread pool mode: there each worker thread serves every
 * connection it accepted, one request at a time, and a worker accepts up to
 * ten connections in a row, so a few workers end up with all the keep-alive
 * connections (a reverse proxy's, say) while the others and their share of
 * the database pool sit idle.  Measured: 4 workers, 16 connections, every
 * request served by one worker.
 *
 * Routes:
 *	  POST /api/payments/stripe_webhook/	body + Stripe-Signature go to
 *			stripe_webhook.stripe_handle_webhook(); its status and JSON go back
 *	  GET|HEAD /healthz						200 if the database answers, else 503
 *	  anything else							404, or 405 with Allow
 *
 * What is refused before the database is asked: a missing Stripe-Signature
 * header (400), a body over max_body (413: by Content-Length before any of
 * it is read, or as soon as the streamed bytes pass the limit), and a body or
 * header with a NUL byte or invalid UTF-8 (400), which a text parameter
 * cannot carry and which Stripe never sends.
 *
 * Every request that reached the handler is logged once, when libmicrohttpd
 * reports it complete: time, method, path, status, event id, latency.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "log.h"

#define WEBHOOK_PATH "/api/payments/stripe_webhook/"
#define HEALTH_PATH "/healthz"

typedef enum Route
{
	ROUTE_WEBHOOK,
	ROUTE_HEALTH,
	ROUTE_OTHER
} Route;

/* Per-request state, from the first callback to the completion callback */
typedef struct Request
{
	struct timespec start;		/* monotonic, when the headers were in */
	Route		route;
	char		method[16];		/* sanitised, for the log */
	char		path[128];		/* sanitised, for the log */
	char	   *body;			/* NUL-terminated once complete */
	size_t		len;
	size_t		cap;
	int			status;			/* HTTP status queued, 0 if none */
	char		event_id[72];	/* from the handler's reply, sanitised */
	const char *note;			/* why it went wrong, for the log */
	char		sqlstate[6];	/* of a database error */
} Request;

/* The server: one per process */
static struct
{
	struct MHD_Daemon *daemon;
	Pool	   *pool;
	const RelayConfig *cfg;
	pthread_mutex_t lock;
	pthread_cond_t idle;		/* signalled when inflight drops to 0 */
	int			inflight;		/* requests between first and last callback
								 * (atomic; srv.lock only to wait for 0) */
	bool		stopping;		/* answer with Connection: close */
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

/*
 * Utf8Problem
 *		NULL if s[0..len) is valid UTF-8 without NUL bytes, else what is
 *		wrong.  Same rules as PostgreSQL: no overlong forms, no surrogates,
 *		nothing above U+10FFFF.
 */
const char *
Utf8Problem(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		unsigned char c = *p;
		int			n;
		unsigned char lo = 0x80,
					hi = 0xBF;

		if (c == 0)
			return "contains a NUL byte";
		if (c < 0x80)
		{
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;		/* overlong */
			else if (c == 0xED)
				hi = 0x9F;		/* surrogates */
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			if (c == 0xF0)
				lo = 0x90;		/* overlong */
			else if (c == 0xF4)
				hi = 0x8F;		/* above U+10FFFF */
		}
		else
			return "is not valid UTF-8";
		if (end - p <= n || p[1] < lo || p[1] > hi)
			return "is not valid UTF-8";
		for (int i = 2; i <= n; i++)
			if (p[i] < 0x80 || p[i] > 0xBF)
				return "is not valid UTF-8";
		p += n + 1;
	}
	return NULL;
}

/*
 * Sanitise
 *		Copy at most size-1 bytes of src for a log line, replacing anything
 *		that is not printable ASCII (or is a space or quote) with '?'.
 */
static void
Sanitise(char *dst, size_t size, const char *src)
{
	size_t		i;

	for (i = 0; i + 1 < size && src != NULL && src[i] != '\0'; i++)
		dst[i] = (src[i] > ' ' && src[i] < 0x7f && src[i] != '"') ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * Respond
 *		Queue status with a JSON body (copied); allow, if given, becomes the
 *		Allow header.  While shutting down, ask the client to close.
 */
static enum MHD_Result
Respond(struct MHD_Connection *conn, Request *req, int status,
		const char *json, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(json), (void *) json,
										   MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (__atomic_load_n(&srv.stopping, __ATOMIC_RELAXED))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		req->status = status;
	return ret;
}

/*
 * RespondMessage
 *		Queue status with {"status": status, "message": message}; message is
 *		one of the fixed strings in this file, so it needs no escaping.
 */
static enum MHD_Result
RespondMessage(struct MHD_Connection *conn, Request *req, int status,
			   const char *message, const char *allow)
{
	char		json[256];

	snprintf(json, sizeof(json), "{\"status\": %d, \"message\": \"%s\"}",
			 status, message);
	return Respond(conn, req, status, json, allow);
}

/*
 * TransientSqlstate
 *		True for errors worth a retry by Stripe (503): connection problems,
 *		serialization failures and deadlocks, lack of resources, lock
 *		timeouts, cancellation and shutdown.
 */
static bool
TransientSqlstate(const char *s)
{
	return strncmp(s, "08", 2) == 0 || strncmp(s, "40", 2) == 0 ||
		strncmp(s, "53", 2) == 0 || strncmp(s, "57", 2) == 0 ||
		strcmp(s, "55P03") == 0;
}

/*
 * RespondPoolFailure
 *		503 for a request that got no database connection.
 */
static enum MHD_Result
RespondPoolFailure(struct MHD_Connection *conn, Request *req, PoolOutcome outcome)
{
	req->note = outcome == POOL_EXHAUSTED ? "no free database connection" : "database unavailable";
	return RespondMessage(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, req->note, NULL);
}

/*
 * RespondDbError
 *		Log a failed statement and answer 503 (transient) or 500.  The log
 *		line gives the SQLSTATE and the server's primary message.
 */
static enum MHD_Result
RespondDbError(struct MHD_Connection *conn, Request *req, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char		msg[256];

	Sanitise(req->sqlstate, sizeof(req->sqlstate), state ? state : "XX000");
	snprintf(msg, sizeof(msg), "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "no message");
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	LogLine("database error %s: %s", req->sqlstate, msg);
	if (TransientSqlstate(req->sqlstate))
	{
		req->note = "database busy";
		return RespondMessage(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, "database busy, retry later", NULL);
	}
	req->note = "database error";
	return RespondMessage(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, "database error", NULL);
}

/*
 * HandleWebhook
 *		The whole body is in: check it, call the handler, relay its answer.
 */
static enum MHD_Result
HandleWebhook(struct MHD_Connection *conn, Request *req)
{
	const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Stripe-Signature");
	const char *problem;
	const char *params[2];
	PGresult   *res;
	PoolOutcome outcome;
	enum MHD_Result ret;
	int			status;

	if (req->body == NULL && (req->body = malloc(1)) == NULL)
		return MHD_NO;
	req->body[req->len] = '\0';
	if ((problem = Utf8Problem(req->body, req->len)) != NULL)
	{
		req->note = strstr(problem, "NUL") ? "body contains a NUL byte" : "body is not valid UTF-8";
		return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, req->note, NULL);
	}
	if (Utf8Problem(sig, strlen(sig)) != NULL)
	{
		req->note = "Stripe-Signature header is not valid UTF-8";
		return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, req->note, NULL);
	}

	params[0] = req->body;
	params[1] = sig;
	res = PoolExec(srv.pool, POOL_STMT_WEBHOOK, params, &outcome);
	if (res == NULL)
		return RespondPoolFailure(conn, req, outcome);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		ret = RespondDbError(conn, req, res);
	else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
			 (status = atoi(PQgetvalue(res, 0, 0))) < 200 || status > 599)
	{
		req->note = "unexpected handler result";
		LogLine("stripe_handle_webhook returned no usable status");
		ret = RespondMessage(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, req->note, NULL);
	}
	else
	{
		if (!PQgetisnull(res, 0, 1))
			Sanitise(req->event_id, sizeof(req->event_id), PQgetvalue(res, 0, 1));
		ret = Respond(conn, req, status, PQgetvalue(res, 0, 2), NULL);
	}
	PQclear(res);
	return ret;
}

/*
 * HandleHealth
 *		200 if a pooled connection answers SELECT 1, else 503.
 */
static enum MHD_Result
HandleHealth(struct MHD_Connection *conn, Request *req)
{
	PoolOutcome outcome;
	PGresult   *res = PoolExec(srv.pool, POOL_STMT_HEALTH, NULL, &outcome);
	enum MHD_Result ret;

	if (res == NULL)
		return RespondPoolFailure(conn, req, outcome);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		ret = RespondMessage(conn, req, MHD_HTTP_OK, "ok", NULL);
	else
		ret = RespondDbError(conn, req, res);
	PQclear(res);
	return ret;
}

/*
 * ElapsedSeconds
 *		Monotonic seconds since the request's headers arrived.
 */
static double
ElapsedSeconds(const Request *req)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - req->start.tv_sec) + (now.tv_nsec - req->start.tv_nsec) / 1e9;
}

/*
 * StartRequest
 *		First callback of a request (headers only): route it and refuse what
 *		can be refused without reading the body.  Returns MHD_YES to read the
 *		body, or the result of queueing the refusal.
 */
static enum MHD_Result
StartRequest(struct MHD_Connection *conn, Request *req, const char *url,
			 const char *method)
{
	const char *clen;

	if (strcmp(url, WEBHOOK_PATH) == 0)
	{
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return RespondMessage(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "POST");
		if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Stripe-Signature") == NULL)
		{
			req->note = "no Stripe-Signature header";
			return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, "missing Stripe-Signature header", NULL);
		}
		clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen != NULL)
		{
			unsigned long long n = strtoull(clen, NULL, 10);

			if (n > srv.cfg->max_body)
			{
				req->note = "body too large";
				return RespondMessage(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, "body too large", NULL);
			}
			/* the size is known and within the limit: one allocation */
			req->cap = n + 1;
			if ((req->body = malloc(req->cap)) == NULL)
				return MHD_NO;
		}
		req->route = ROUTE_WEBHOOK;
		return MHD_YES;
	}
	if (strcmp(url, HEALTH_PATH) == 0)
	{
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return RespondMessage(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", "GET, HEAD");
		req->route = ROUTE_HEALTH;
		return MHD_YES;
	}
	return RespondMessage(conn, req, MHD_HTTP_NOT_FOUND, "not found", NULL);
}

/*
 * AppendBody
 *		Keep a chunk of the body, growing the buffer up to max_body + 1.
 *		False if the chunk would pass the limit or memory ran out.
 */
static bool
AppendBody(Request *req, const char *data, size_t size)
{
	if (size > srv.cfg->max_body - req->len)
		return false;
	if (req->len + size + 1 > req->cap)
	{
		size_t		cap = req->cap ? req->cap : 16384;
		char	   *p;

		while (cap < req->len + size + 1)
			cap *= 2;
		if (cap > srv.cfg->max_body + 1)
			cap = srv.cfg->max_body + 1;
		if ((p = realloc(req->body, cap)) == NULL)
			return false;
		req->body = p;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	return true;
}

/*
 * AccessHandler
 *		libmicrohttpd's request callback: called once with the headers, then
 *		once per chunk of body, then once more when the body is complete.
 */
static enum MHD_Result
AccessHandler(void *cls, struct MHD_Connection *conn, const char *url,
			  const char *method, const char *version, const char *upload_data,
			  size_t *upload_data_size, void **con_cls)
{
	Request    *req = *con_cls;

	(void) cls;
	(void) version;
	if (req == NULL)
	{
		if ((req = calloc(1, sizeof(Request))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		req->route = ROUTE_OTHER;
		Sanitise(req->method, sizeof(req->method), method);
		Sanitise(req->path, sizeof(req->path), url);
		*con_cls = req;
		__atomic_add_fetch(&srv.inflight, 1, __ATOMIC_SEQ_CST);
		return StartRequest(conn, req, url, method);
	}
	if (req->status != 0)
	{
		/* already answered (a refusal): drop whatever body still comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (ElapsedSeconds(req) > srv.cfg->timeout)
		{
			req->note = "body not received in time";
			return MHD_NO;
		}
		if (req->route == ROUTE_WEBHOOK &&
			!AppendBody(req, upload_data, *upload_data_size))
		{
			if (req->len + *upload_data_size <= srv.cfg->max_body)
			{
				req->note = "out of memory";
				return MHD_NO;
			}
			/* streamed (chunked) body over the limit: read no further */
			req->note = "body too large";
			if (RespondMessage(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, req->note, NULL) == MHD_YES)
			{
				*upload_data_size = 0;
				return MHD_YES;
			}
			/* libmicrohttpd 0.9 cannot answer in mid-body: close instead */
			req->note = "body too large, connection closed";
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->route == ROUTE_WEBHOOK)
		return HandleWebhook(conn, req);
	return HandleHealth(conn, req);
}

/*
 * RequestCompleted
 *		libmicrohttpd's completion callback: log the request, free it, and
 *		let a shutdown waiting for idleness know.
 */
static void
RequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;
	char		status[8];
	char		note[96] = "";

	(void) cls;
	(void) conn;
	if (req == NULL)
		return;
	*con_cls = NULL;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		req->note = "client timed out";
	else if (toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT && req->note == NULL)
		req->note = "client closed the connection";
	else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->note == NULL)
		req->note = "connection closed early";
	if (req->status != 0)
		snprintf(status, sizeof(status), "%d", req->status);
	else
		strcpy(status, "-");
	if (req->note != NULL)
		snprintf(note, sizeof(note), " (%s%s%s)", req->note,
				 req->sqlstate[0] ? " " : "", req->sqlstate);
	LogLine("%s %s %s %s %.1fms%s", req->method, req->path, status,
			req->event_id[0] ? req->event_id : "-", ElapsedSeconds(req) * 1000.0, note);
	free(req->body);
	free(req);

	/*
	 * Only the request that leaves none in flight takes the lock, so a busy
	 * relay does not serialise its threads here; HttpWaitIdle() checks the
	 * count under the same lock, so this broadcast cannot slip in between
	 * its check and its wait.
	 */
	if (__atomic_sub_fetch(&srv.inflight, 1, __ATOMIC_SEQ_CST) == 0)
	{
		pthread_mutex_lock(&srv.lock);
		pthread_cond_broadcast(&srv.idle);
		pthread_mutex_unlock(&srv.lock);
	}
}

/*
 * MhdLogger
 *		Route libmicrohttpd's own error messages into our log format.
 */
static void
MhdLogger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];
	size_t		n;

	(void) cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	LogLine("libmicrohttpd: %s", msg);
}

/*
 * HttpStart
 *		Start libmicrohttpd, a thread per connection, on the configured address.
 */
bool
HttpStart(const RelayConfig *cfg, Pool *pool)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	srv.cfg = cfg;
	srv.pool = pool;
	if (cfg->listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv.daemon = MHD_start_daemon(flags, 0, NULL, NULL, AccessHandler, NULL,
								  MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
								  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) cfg->max_connections,
								  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg->timeout,
								  MHD_OPTION_NOTIFY_COMPLETED, RequestCompleted, NULL,
								  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) &cfg->listen_addr,
								  MHD_OPTION_END);
	return srv.daemon != NULL;
}

/*
 * HttpQuiesce
 *		Stop accepting: close the listening socket, keep the connections.
 */
void
HttpQuiesce(void)
{
	MHD_socket	fd;

	__atomic_store_n(&srv.stopping, true, __ATOMIC_RELAXED);
	fd = MHD_quiesce_daemon(srv.daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

/*
 * HttpWaitIdle
 *		Wait for the in-flight requests to finish, at most seconds.
 */
bool
HttpWaitIdle(int seconds)
{
	struct timespec deadline;
	bool		idle;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&srv.lock);
	while (__atomic_load_n(&srv.inflight, __ATOMIC_SEQ_CST) > 0 &&
		   pthread_cond_timedwait(&srv.idle, &srv.lock, &deadline) == 0)
		;
	idle = (__atomic_load_n(&srv.inflight, __ATOMIC_SEQ_CST) == 0);
	pthread_mutex_unlock(&srv.lock);
	return idle;
}

/*
 * HttpStop
 *		Close all connections and join the worker threads.
 */
void
HttpStop(void)
{
	MHD_stop_daemon(srv.daemon);
	srv.daemon = NULL;
}
