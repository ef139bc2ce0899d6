/*-------------------------------------------------------------------------
 *
 * framing.h
 *		Request framing and path checks of stripe-webhook-relay.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_FRAMING_H
#define RELAY_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* What FramingProblem learns from the request's headers */
typedef struct HeaderScan
{
	size_t		bytes;			/* the header lines as they were sent */
	bool		odd;			/* a value not right after its name */
	bool		control;		/* a CR or other control byte in a value */
	int			host;
	int			content_length;
	int			transfer_encoding;
	int			signature;		/* Stripe-Signature headers */
	const char *te;				/* Transfer-Encoding value */
} HeaderScan;

/*
 * NULL if the request head frames the request without doubt, else why not
 * (answer 400 and close).  scan (zeroed by the caller) gets the counts.
 */
extern const char *FramingProblem(struct MHD_Connection *conn, const char *method,
								  const char *raw_uri, const char *version,
								  HeaderScan *scan);

/* True if raw_uri, as sent and without its query, is exactly path */
extern bool RawPathIs(const char *raw_uri, const char *path);

/* NULL if s[0..len) is valid UTF-8 without NUL bytes, else what is wrong */
extern const char *Utf8Problem(const char *s, size_t len);

#endif							/* RELAY_FRAMING_H */
