/*-------------------------------------------------------------------------
 *
 * log.c
 *		One-line log messages on stderr.
 *
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from concurrent threads never interleave.  Callers
 * never pass bodies, signatures or secrets.
 *
 * Lines about what a client provokes (refused connections, rejected or cut
 * off requests) go through LogLimited(): one line per reason per second at
 * most, so that a flood of forged or slow requests cannot flood the log; the
 * suppressed lines are counted and the count logged.
 *
 *-------------------------------------------------------------------------
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Rate-limit state per reason; the last slot is shared by any further reason */
#define LIMIT_SLOTS 32

static struct
{
	char		reason[64];		/* "" = free */
	time_t		second;			/* monotonic second of the last line */
	long		suppressed;		/* lines skipped since then */
}			limits[LIMIT_SLOTS];
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * LogWrite
 *		Format the message after an ISO 8601 UTC timestamp with milliseconds
 *		and write it in one write(2); overlong lines are cut.
 */
static void
LogWrite(const char *suffix, const char *fmt, va_list ap)
{
	char		buf[1024];
	struct timespec now;
	struct tm	tm;
	size_t		n;
	int			m;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ ", now.tv_nsec / 1000000L);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += ((size_t) m < sizeof(buf) - n - 1) ? (size_t) m : sizeof(buf) - n - 2;
	if (suffix != NULL && n + strlen(suffix) < sizeof(buf) - 1)
	{
		memcpy(buf + n, suffix, strlen(suffix));
		n += strlen(suffix);
	}
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
	{
		/* nowhere left to report it */
	}
}

/*
 * LogLine
 *		Write "<time> <message>" to stderr.
 */
void
LogLine(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	LogWrite(NULL, fmt, ap);
	va_end(ap);
}

/*
 * MonotonicSecond
 *		The current second of the monotonic clock.
 */
static time_t
MonotonicSecond(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec;
}

/*
 * LogLimited
 *		LogLine, unless a line of the same reason was written this second;
 *		then only count it.  The count of lines skipped before is appended.
 */
void
LogLimited(const char *reason, const char *fmt,...)
{
	time_t		now = MonotonicSecond();
	long		skipped;
	char		suffix[96] = "";
	va_list		ap;
	int			i;

	pthread_mutex_lock(&limits_lock);
	for (i = 0; i < LIMIT_SLOTS - 1; i++)
		if (limits[i].reason[0] == '\0' || strncmp(limits[i].reason, reason, sizeof(limits[i].reason) - 1) == 0)
			break;
	if (limits[i].reason[0] != '\0' && limits[i].second == now)
	{
		limits[i].suppressed++;
		pthread_mutex_unlock(&limits_lock);
		return;
	}
	skipped = limits[i].suppressed;
	snprintf(limits[i].reason, sizeof(limits[i].reason), "%s", reason);
	limits[i].second = now;
	limits[i].suppressed = 0;
	pthread_mutex_unlock(&limits_lock);

	if (skipped > 0)
		snprintf(suffix, sizeof(suffix), " [%ld similar lines suppressed before]", skipped);
	va_start(ap, fmt);
	LogWrite(suffix, fmt, ap);
	va_end(ap);
}

/*
 * LogFlushSuppressed
 *		For every reason whose lines were suppressed in a second now past,
 *		log how many, so that the count is not held back until the next
 *		line of that reason (which may never come).
 */
void
LogFlushSuppressed(void)
{
	time_t		now = MonotonicSecond();
	int			i;

	for (i = 0; i < LIMIT_SLOTS; i++)
	{
		char		reason[64];
		long		skipped = 0;

		pthread_mutex_lock(&limits_lock);
		if (limits[i].suppressed > 0 && limits[i].second < now)
		{
			skipped = limits[i].suppressed;
			limits[i].suppressed = 0;
			memcpy(reason, limits[i].reason, sizeof(reason));
		}
		pthread_mutex_unlock(&limits_lock);
		if (skipped > 0)
			LogLine("%ld similar lines suppressed: %s", skipped, reason);
	}
}
