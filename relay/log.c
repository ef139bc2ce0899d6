/*-------------------------------------------------------------------------
 *
 * log.c
 *		One-line log messages on stderr.
 *
 * Each line is formatted into a local buffer and written with a single
 * write(2), so lines from concurrent threads never interleave.  Callers
 * never pass bodies, signatures or secrets.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * LogLine
 *		Format the message after an ISO 8601 UTC timestamp with milliseconds;
 *		overlong lines are cut.
 */
void
LogLine(const char *fmt,...)
{
	char		buf[1024];
	struct timespec now;
	struct tm	tm;
	size_t		n;
	int			m;
	va_list		ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ ", now.tv_nsec / 1000000L);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += ((size_t) m < sizeof(buf) - n - 1) ? (size_t) m : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
	{
		/* nowhere left to report it */
	}
}
