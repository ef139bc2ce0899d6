/*-------------------------------------------------------------------------
 *
 * guard.c
 *		Connection guard of stripe-webhook-relay.
 *
 * Every client connection is tracked from accept to close, with the phase
 * of its current request (headers, body, processing) and when that request
 * began (the accept, or the previous answer on a kept-alive connection).
 *
 *	  - Accept policy: a client outside --allow-from is refused; so is one
 *		that already holds --max-connections-per-ip connections.  When
 *		--max-connections are open, the oldest connection still sending its
 *		request (or idle between requests) is cut off to make room: slow
 *		clients cannot crowd out a delivery, which sends its whole request
 *		at once and is then being processed, and so never evicted.  Only if
 *		every connection is being processed is the new one refused.
 *	  - Deadlines: a watchdog thread cuts off every connection whose
 *		request line and headers did not arrive within --header-timeout,
 *		or whose whole request did not arrive within --request-timeout, of
 *		the request's beginning, however steadily it trickles in.
 *		(libmicrohttpd's own --timeout only counts silence.)
 *	  - Body budget: the bytes of request bodies held at once, over all
 *		connections, stay within --max-body-total.
 *
 * To cut a connection off, its socket is shut down (shutdown(2), under the
 * guard's lock, while libmicrohttpd still holds it open: it closes sockets
 * only after the closed notification, which takes the same lock); the
 * connection's thread then sees the end of input and closes it.  Every
 * refusal and cut-off leaves a (rate-limited) log line.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"
#include "log.h"

/* Bodies up to this size may use the whole budget, larger ones 3/4 of it */
#define SMALL_BODY (64 * 1024)

/* One tracked client connection */
typedef struct Conn
{
	struct Conn *prev;
	struct Conn *next;
	int			fd;
	struct sockaddr_storage addr;
	char		addr_text[INET6_ADDRSTRLEN];
	ConnPhase	phase;
	struct timespec since;		/* beginning of the current request */
	const char *cut;			/* why the guard cut it off, or NULL */
} Conn;

static struct
{
	const RelayConfig *cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* signalled to stop the watchdog */
	Conn	   *head;			/* oldest first */
	Conn	   *tail;
	int			open;			/* tracked and not cut off */
	bool		stop;
	pthread_t	watchdog;
	bool		running;
	size_t		body_bytes;		/* body budget in use (atomic) */
	char		header_reason[96];	/* why a header deadline cut one off */
	char		request_reason[96]; /* why a request deadline did */
} guard = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * SecondsSince
 *		Monotonic seconds from t to now.
 */
static double
SecondsSince(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * AddressText
 *		The IP address of addr as text (IPv4-mapped IPv6 as IPv4).
 */
static void
AddressText(const struct sockaddr *addr, char *buf, size_t size)
{
	const void *src = NULL;
	int			family = addr->sa_family;

	if (family == AF_INET)
		src = &((const struct sockaddr_in *) addr)->sin_addr;
	else if (family == AF_INET6)
	{
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *) addr)->sin6_addr;

		src = a6;
		if (IN6_IS_ADDR_V4MAPPED(a6))
		{
			family = AF_INET;
			src = &a6->s6_addr[12];
		}
	}
	if (src == NULL || inet_ntop(family, src, buf, size) == NULL)
		snprintf(buf, size, "?");
}

/*
 * CutLocked
 *		Cut conn off (caller holds guard.lock): shut its socket down so that
 *		its thread stops waiting for it, and log why.
 */
static void
CutLocked(Conn *c, const char *reason, const char *key)
{
	c->cut = reason;
	guard.open--;
	shutdown(c->fd, SHUT_RDWR);
	LogLimited(key, "connection from %s cut off after %.1fs: %s",
			   c->addr_text, SecondsSince(&c->since), reason);
}

/*
 * GuardAccept
 *		libmicrohttpd's accept policy callback, run by its listening thread
 *		for every new connection before it is served.
 */
enum MHD_Result
GuardAccept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	char		text[INET6_ADDRSTRLEN];
	int			same = 0;
	Conn	   *c;
	Conn	   *victim = NULL;

	(void) cls;
	(void) addrlen;
	AddressText(addr, text, sizeof(text));
	if (!ConfigAllows(guard.cfg, addr))
	{
		LogLimited("not allowed", "connection from %s refused: not in --allow-from", text);
		return MHD_NO;
	}

	pthread_mutex_lock(&guard.lock);
	for (c = guard.head; c != NULL; c = c->next)
	{
		if (c->cut != NULL)
			continue;
		if (strcmp(c->addr_text, text) == 0)
			same++;
		if (victim == NULL && c->phase != PHASE_PROCESSING)
			victim = c;			/* the oldest one not being processed */
	}
	if (guard.cfg->max_per_ip > 0 && same >= guard.cfg->max_per_ip)
	{
		pthread_mutex_unlock(&guard.lock);
		LogLimited("per ip", "connection from %s refused: it has %d connections open (--max-connections-per-ip)",
				   text, same);
		return MHD_NO;
	}
	if (guard.open >= guard.cfg->max_connections)
	{
		if (victim == NULL)
		{
			pthread_mutex_unlock(&guard.lock);
			LogLimited("full", "connection from %s refused: all %d connections are being processed",
					   text, guard.cfg->max_connections);
			return MHD_NO;
		}
		CutLocked(victim, victim->phase == PHASE_HEADERS ?
				  "evicted to make room (--max-connections reached; it had sent no complete request)" :
				  "evicted to make room (--max-connections reached; its body was still arriving)",
				  "evicted");
	}
	pthread_mutex_unlock(&guard.lock);
	return MHD_YES;
}

/*
 * GuardNotify
 *		libmicrohttpd's connection notification: start tracking a connection
 *		when it is accepted, stop when it is closed.
 */
void
GuardNotify(void *cls, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	Conn	   *c;

	(void) cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		/*
		 * Each answer is copied before the next call: libmicrohttpd 1.0
		 * returns every kind of information in the same buffer.
		 */
		const union MHD_ConnectionInfo *info;

		*socket_context = NULL;
		if ((c = calloc(1, sizeof(Conn))) == NULL)
			return;
		if ((info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) == NULL)
		{
			free(c);
			return;
		}
		c->fd = info->connect_fd;
		if ((info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) == NULL)
		{
			free(c);
			return;
		}
		memcpy(&c->addr, info->client_addr, info->client_addr->sa_family == AF_INET6 ?
			   sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		AddressText((const struct sockaddr *) &c->addr, c->addr_text, sizeof(c->addr_text));
		c->phase = PHASE_HEADERS;
		clock_gettime(CLOCK_MONOTONIC, &c->since);
		pthread_mutex_lock(&guard.lock);
		c->prev = guard.tail;
		if (guard.tail != NULL)
			guard.tail->next = c;
		else
			guard.head = c;
		guard.tail = c;
		guard.open++;
		pthread_mutex_unlock(&guard.lock);
		*socket_context = c;
		return;
	}

	if (code != MHD_CONNECTION_NOTIFY_CLOSED || (c = *socket_context) == NULL)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&guard.lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		guard.head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		guard.tail = c->prev;
	if (c->cut == NULL)
		guard.open--;
	pthread_mutex_unlock(&guard.lock);

	/* closed by libmicrohttpd's --timeout while waiting for a request */
	if (c->cut == NULL && c->phase == PHASE_HEADERS &&
		SecondsSince(&c->since) >= guard.cfg->timeout - 1)
		LogLimited("idle", "connection from %s closed: silent for %ds (--timeout)",
				   c->addr_text, guard.cfg->timeout);
	free(c);
}

/*
 * ConnOf
 *		The tracked connection of an libmicrohttpd connection, or NULL.
 */
static Conn *
ConnOf(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

/*
 * GuardSetPhase
 *		Record that the request on conn reached phase; a new request
 *		(PHASE_HEADERS) starts its deadlines from now.
 */
void
GuardSetPhase(struct MHD_Connection *conn, ConnPhase phase)
{
	Conn	   *c = ConnOf(conn);

	if (c == NULL)
		return;
	pthread_mutex_lock(&guard.lock);
	c->phase = phase;
	if (phase == PHASE_HEADERS)
		clock_gettime(CLOCK_MONOTONIC, &c->since);
	pthread_mutex_unlock(&guard.lock);
}

/*
 * GuardCutReason
 *		Why the guard cut conn off, or NULL if it did not.
 */
const char *
GuardCutReason(struct MHD_Connection *conn)
{
	Conn	   *c = ConnOf(conn);
	const char *reason;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&guard.lock);
	reason = c->cut;
	pthread_mutex_unlock(&guard.lock);
	return reason;
}

/*
 * GuardClientAddress
 *		The client address of conn as text ("?" if unknown).
 */
void
GuardClientAddress(struct MHD_Connection *conn, char *buf, size_t size)
{
	Conn	   *c = ConnOf(conn);

	snprintf(buf, size, "%s", c != NULL ? c->addr_text : "?");
}

/*
 * Watchdog
 *		Every 100 ms: cut off the connections past their deadlines, and
 *		report the log lines suppressed in the second before.
 */
static void *
Watchdog(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&guard.lock);
	while (!guard.stop)
	{
		struct timespec until;
		Conn	   *c;

		for (c = guard.head; c != NULL; c = c->next)
		{
			double		age;

			if (c->cut != NULL || c->phase == PHASE_PROCESSING)
				continue;
			age = SecondsSince(&c->since);
			if (c->phase == PHASE_HEADERS && age >= guard.cfg->header_timeout)
				CutLocked(c, guard.header_reason, "header timeout");
			else if (age >= guard.cfg->request_timeout)
				CutLocked(c, guard.request_reason, "request timeout");
		}
		pthread_mutex_unlock(&guard.lock);
		LogFlushSuppressed();
		pthread_mutex_lock(&guard.lock);

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!guard.stop)
			pthread_cond_timedwait(&guard.wake, &guard.lock, &until);
	}
	pthread_mutex_unlock(&guard.lock);
	return NULL;
}

/*
 * GuardStart
 *		Remember the settings and start the watchdog thread.
 */
bool
GuardStart(const RelayConfig *cfg)
{
	guard.cfg = cfg;
	snprintf(guard.header_reason, sizeof(guard.header_reason),
			 "request line and headers not received within %ds (--header-timeout)",
			 cfg->header_timeout);
	snprintf(guard.request_reason, sizeof(guard.request_reason),
			 "request not received within %ds (--request-timeout)", cfg->request_timeout);
	pthread_cond_init(&guard.wake, NULL);
	guard.stop = false;
	guard.running = pthread_create(&guard.watchdog, NULL, Watchdog, NULL) == 0;
	return guard.running;
}

/*
 * GuardStop
 *		Stop the watchdog thread and wait for it.
 */
void
GuardStop(void)
{
	if (!guard.running)
		return;
	pthread_mutex_lock(&guard.lock);
	guard.stop = true;
	pthread_cond_signal(&guard.wake);
	pthread_mutex_unlock(&guard.lock);
	pthread_join(guard.watchdog, NULL);
	guard.running = false;
	LogFlushSuppressed();
}

/*
 * GuardTakeBody
 *		Reserve n bytes of the body budget, if they fit; see guard.h.
 */
bool
GuardTakeBody(size_t n)
{
	size_t		limit = guard.cfg->max_body_total;
	size_t		cur = __atomic_load_n(&guard.body_bytes, __ATOMIC_RELAXED);

	if (n > SMALL_BODY)
		limit -= limit / 4;
	do
	{
		if (n > limit || cur > limit - n)
			return false;
	} while (!__atomic_compare_exchange_n(&guard.body_bytes, &cur, cur + n, false,
										  __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
	return true;
}

/*
 * GuardGiveBody
 *		Return n bytes to the body budget.
 */
void
GuardGiveBody(size_t n)
{
	__atomic_sub_fetch(&guard.body_bytes, n, __ATOMIC_SEQ_CST);
}
