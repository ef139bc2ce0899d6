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

#endif							/* RELAY_LOG_H */
