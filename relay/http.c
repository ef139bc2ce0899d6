/*-------------------------------------------------------------------------
 *
 * http.c
 *		The HTTP side of stripe-webhook-relay, on libmicrohttpd.
 *
 * libmicrohttpd runs one thread per client connection (at most
 * max_connections, see guard.c); a thread that runs a database call blocks until the
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
 * Paths are matched on the raw request target, as sent: any percent-sign
 * (an encoded slash, NUL, anything) is 404, never decoded into a match.
 *
 * What is refused before the database is asked (framing.c has the checks of
 * the head; 400 unless said otherwise;
 * the framing refusals also close the connection, so that bytes after the
 * headers are never read as another request):
 *	  - a header block whose size does not add up to the headers parsed from
 *		it: a NUL byte (libmicrohttpd would cut the value there), a bare LF
 *		line end, a folded header line; a CR or other control character in
 *		a header value;
 *	  - HTTP/1.1 without Host, or more than one Host;
 *	  - Content-Length together with Transfer-Encoding (RFC 9112 6.3), more
 *		than one of either, a Transfer-Encoding other than "chunked";
 *	  - on the webhook: no Stripe-Signature header, or more than one; a body
 *		over max_body (413: by Content-Length before any of it is read, or
 *		as soon as the streamed bytes pass the limit); a body that does not
 *		fit in the body budget (503 with Retry-After, see guard.c); a body
 *		or header with a NUL byte or invalid UTF-8, which a text parameter
 *		cannot carry and which Stripe never sends.
 *
 * Every request is logged once, when libmicrohttpd reports it complete:
 * time, method, path, status, event id, latency.  Lines of refused requests
 * (4xx, or cut off) are rate-limited per reason (log.c).
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

#include "../src/retryable.h"
#include "framing.h"
#include "guard.h"
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
	struct timespec start;		/* monotonic, when the request line was in */
	bool		started;		/* the access handler has seen it */
	char	   *raw_uri;		/* request target as sent (not decoded) */
	size_t		reserved;		/* body budget held (guard.c) */
	bool		close;			/* answer with Connection: close */
	const char *retry_after;	/* Retry-After of the answer, or NULL */
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
	if (req->retry_after != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, req->retry_after);
	if (req->close || __atomic_load_n(&srv.stopping, __ATOMIC_RELAXED))
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
	if (SqlstateIsRetryable(req->sqlstate))
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
 *		First callback of a request (headers only): check its framing,
 *		route it and refuse what can be refused without reading the body.
 *		Returns MHD_YES to read the body, or the result of queueing the
 *		refusal.
 */
static enum MHD_Result
StartRequest(struct MHD_Connection *conn, Request *req, const char *method,
			 const char *version)
{
	HeaderScan	scan = {0};
	const char *clen;

	if ((req->note = FramingProblem(conn, method, req->raw_uri, version, &scan)) != NULL)
	{
		req->close = true;
		return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, req->note, NULL);
	}
	if (RawPathIs(req->raw_uri, WEBHOOK_PATH))
	{
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		{
			req->note = "method not allowed";
			return RespondMessage(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, req->note, "POST");
		}
		if (scan.signature == 0)
		{
			req->note = "no Stripe-Signature header";
			return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, "missing Stripe-Signature header", NULL);
		}
		if (scan.signature > 1)
		{
			req->note = "more than one Stripe-Signature header";
			req->close = true;
			return RespondMessage(conn, req, MHD_HTTP_BAD_REQUEST, req->note, NULL);
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
			if (!GuardTakeBody(n + 1))
			{
				req->note = "too many request bodies in flight";
				req->retry_after = "1";
				req->close = true;
				return RespondMessage(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, req->note, NULL);
			}
			req->reserved = n + 1;
			req->cap = n + 1;
			if ((req->body = malloc(req->cap)) == NULL)
				return MHD_NO;
		}
		req->route = ROUTE_WEBHOOK;
		return MHD_YES;
	}
	if (RawPathIs(req->raw_uri, HEALTH_PATH))
	{
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		{
			req->note = "method not allowed";
			return RespondMessage(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, req->note, "GET, HEAD");
		}
		req->route = ROUTE_HEALTH;
		return MHD_YES;
	}
	req->note = "not found";
	return RespondMessage(conn, req, MHD_HTTP_NOT_FOUND, req->note, NULL);
}

/*
 * AppendBody
 *		Keep a chunk of the body, growing the buffer up to max_body + 1
 *		within the body budget.  NULL if it fit, else why not.
 */
static const char *
AppendBody(Request *req, const char *data, size_t size)
{
	if (size > srv.cfg->max_body - req->len)
		return "body too large";
	if (req->len + size + 1 > req->cap)
	{
		size_t		cap = req->cap ? req->cap : 16384;
		char	   *p;

		while (cap < req->len + size + 1)
			cap *= 2;
		if (cap > srv.cfg->max_body + 1)
			cap = srv.cfg->max_body + 1;
		if (cap > req->reserved)
		{
			if (!GuardTakeBody(cap - req->reserved))
				return "too many request bodies in flight";
			req->reserved = cap;
		}
		if ((p = realloc(req->body, cap)) == NULL)
			return "out of memory";
		req->body = p;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
	return NULL;
}

/*
 * UriLogged
 *		libmicrohttpd's URI log callback: the request line is in.  Start the
 *		request's state with the request target as sent (libmicrohttpd
 *		decodes the copy it passes to the access handler).
 */
static void *
UriLogged(void *cls, const char *uri, struct MHD_Connection *conn)
{
	Request    *req;

	(void) cls;
	(void) conn;
	if ((req = calloc(1, sizeof(Request))) == NULL)
		return NULL;
	if ((req->raw_uri = strdup(uri)) == NULL)
	{
		free(req);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	req->route = ROUTE_OTHER;
	/* the path only: a query string stays out of the log */
	snprintf(req->path, sizeof(req->path), "%.*s", (int) strcspn(uri, "?"), uri);
	Sanitise(req->path, sizeof(req->path), req->path);
	__atomic_add_fetch(&srv.inflight, 1, __ATOMIC_SEQ_CST);
	return req;
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
	const char *problem;

	(void) cls;
	(void) url;
	if (req == NULL)
		return MHD_NO;			/* out of memory in UriLogged */
	if (!req->started)
	{
		enum MHD_Result ret;

		req->started = true;
		Sanitise(req->method, sizeof(req->method), method);
		GuardSetPhase(conn, PHASE_BODY);
		ret = StartRequest(conn, req, method, version);
		if (req->status != 0)
			GuardSetPhase(conn, PHASE_PROCESSING);
		return ret;
	}
	if (req->status != 0)
	{
		/* already answered (a refusal): drop whatever body still comes */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (req->route == ROUTE_WEBHOOK &&
			(problem = AppendBody(req, upload_data, *upload_data_size)) != NULL)
		{
			req->note = problem;
			if (strcmp(problem, "out of memory") == 0)
				return MHD_NO;
			/* streamed (chunked) body over a limit: read no further */
			req->close = true;
			if (problem[0] == 't')
				req->retry_after = "1";
			if (RespondMessage(conn, req, problem[0] == 't' ? MHD_HTTP_SERVICE_UNAVAILABLE :
							   MHD_HTTP_CONTENT_TOO_LARGE, req->note, NULL) == MHD_YES)
			{
				*upload_data_size = 0;
				return MHD_YES;
			}
			/* libmicrohttpd 0.9 cannot answer in mid-body: close instead */
			req->note = problem[0] == 't' ? "too many request bodies in flight, connection closed" :
				"body too large, connection closed";
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	GuardSetPhase(conn, PHASE_PROCESSING);
	if (req->route == ROUTE_WEBHOOK)
		return HandleWebhook(conn, req);
	return HandleHealth(conn, req);
}

/*
 * RequestCompleted
 *		libmicrohttpd's completion callback: log the request, free it, and
 *		let a shutdown waiting for idleness know.  Lines of refused requests
 *		(4xx, no answer) are rate-limited per reason.
 */
static void
RequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;
	const char *cut = GuardCutReason(conn);
	char		status[8];
	char		note[160] = "";
	char		addr[64];
	char		key[96];

	(void) cls;
	if (req == NULL)
		return;
	*con_cls = NULL;
	if (cut != NULL)
		req->note = cut;
	else if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
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
	if (req->status == 0 || (req->status >= 400 && req->status < 500) ||
		req->retry_after != NULL)
	{
		GuardClientAddress(conn, addr, sizeof(addr));
		snprintf(key, sizeof(key), "%s %s", status, req->note ? req->note : "from the handler");
		LogLimited(key, "%s %s %s %s %.1fms%s from %s", req->method[0] ? req->method : "-",
				   req->path, status, req->event_id[0] ? req->event_id : "-",
				   ElapsedSeconds(req) * 1000.0, note, addr);
	}
	else
		LogLine("%s %s %s %s %.1fms%s", req->method, req->path, status,
				req->event_id[0] ? req->event_id : "-", ElapsedSeconds(req) * 1000.0, note);
	if (req->reserved > 0)
		GuardGiveBody(req->reserved);
	GuardSetPhase(conn, PHASE_HEADERS);
	free(req->raw_uri);
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
 *		Route libmicrohttpd's own error messages into our log format.  Most
 *		are about what a client did (closed early, sent garbage), so they
 *		are rate-limited like the relay's refusals, per message.
 */
static void
MhdLogger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];
	char		key[64];
	const char *body;
	size_t		n;

	(void) cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/*
	 * Per message; its refusals of requests share one format and differ in
	 * the HTML body of the answer (libmicrohttpd 1.0)
	 */
	body = strstr(msg, "<body>");
	snprintf(key, sizeof(key), "libmicrohttpd %s", body != NULL ? body + 6 : fmt);
	LogLimited(key, "libmicrohttpd: %s", msg);
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
	if (!GuardStart(cfg))
		return false;

	/*
	 * The guard keeps max_connections open and makes room by cutting slow
	 * ones off; libmicrohttpd's own limit leaves headroom for those still
	 * closing.
	 */
	srv.daemon = MHD_start_daemon(flags, 0, GuardAccept, NULL, AccessHandler, NULL,
								  MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
								  MHD_OPTION_CONNECTION_LIMIT,
								  (unsigned int) (cfg->max_connections + 16 + cfg->max_connections / 4),
								  MHD_OPTION_URI_LOG_CALLBACK, UriLogged, NULL,
								  MHD_OPTION_NOTIFY_CONNECTION, GuardNotify, NULL,
								  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) cfg->timeout,
								  MHD_OPTION_NOTIFY_COMPLETED, RequestCompleted, NULL,
								  MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) &cfg->listen_addr,
#if MHD_VERSION >= 0x00097701
	/*
	 * The stricter parsing RFC 9112 allows a server (libmicrohttpd 1.0
	 * otherwise joins folded header lines and hands them on as one)
	 */
								  MHD_OPTION_CLIENT_DISCIPLINE_LVL, (int) 1,
#endif
								  MHD_OPTION_END);
	if (srv.daemon == NULL)
		GuardStop();
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
	GuardStop();
}
