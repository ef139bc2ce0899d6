/*-------------------------------------------------------------------------
 *
 * log.h
 *		One-line log messages on stderr, each prefixed with the UTC time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

/* Write "<time> <message>\n" to stderr in one write(2) (thread-safe) */
extern void LogLine(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/*
 * Like LogLine, but at most one line per reason per second: lines beyond
 * that are counted, and the count is reported with the next line of that
 * reason or by LogFlushSuppressed().  For lines a client can provoke at will
 * (refusals, rejections, cut-off connections).
 */
extern void LogLimited(const char *reason, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* Report the lines suppressed in past seconds (called about every 100 ms) */
extern void LogFlushSuppressed(void);

#endif							/* RELAY_LOG_H */
