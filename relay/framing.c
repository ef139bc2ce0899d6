/*-------------------------------------------------------------------------
 *
 * framing.c
 *		What stripe-webhook-relay checks in a request before it is routed:
 *		that its head frames it without doubt, that its path matches as
 *		sent, and that text is UTF-8 a text parameter can carry.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "framing.h"

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
 * NameIs
 *		True if the header name key[0..key_size) is name, ignoring case.
 */
static bool
NameIs(const char *key, size_t key_size, const char *name)
{
	return key_size == strlen(name) && strncasecmp(key, name, key_size) == 0;
}

/*
 * ScanHeader
 *		libmicrohttpd header iterator: add up one header line ("Name:",
 *		the whitespace libmicrohttpd skipped, the value, CRLF) and count the
 *		headers that matter for framing.
 */
static enum MHD_Result
ScanHeader(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
		   const char *value, size_t value_size)
{
	HeaderScan *scan = cls;
	uintptr_t	after = (uintptr_t) key + key_size + 1;
	size_t		i;

	(void) kind;
	if ((uintptr_t) value < after || (uintptr_t) value - after > 256)
		scan->odd = true;		/* not where a single line puts it */
	else
		scan->bytes += key_size + 1 + ((uintptr_t) value - after) + value_size + 2;
	for (i = 0; i < value_size; i++)
		if (((unsigned char) value[i] < 0x20 && value[i] != '\t') || value[i] == 0x7f)
			scan->control = true;
	if (NameIs(key, key_size, MHD_HTTP_HEADER_HOST))
		scan->host++;
	else if (NameIs(key, key_size, MHD_HTTP_HEADER_CONTENT_LENGTH))
		scan->content_length++;
	else if (NameIs(key, key_size, MHD_HTTP_HEADER_TRANSFER_ENCODING))
	{
		scan->transfer_encoding++;
		scan->te = value;
	}
	else if (NameIs(key, key_size, "Stripe-Signature"))
		scan->signature++;
	return MHD_YES;
}

/*
 * FramingProblem
 *		NULL if the request's head is one this relay can frame without
 *		doubt, else why not (the answer is 400 and the connection closed).
 *
 * libmicrohttpd 0.9 keeps header values as C strings: a NUL byte cuts a
 * value short and the rest of the line is dropped unseen; it also accepts
 * bare LF line ends and folded lines.  So the head is checked whole: its
 * size as received must equal the request line plus every parsed header
 * line, CRLF-terminated, and nothing else.
 */
const char *
FramingProblem(struct MHD_Connection *conn, const char *method,
			   const char *raw_uri, const char *version, HeaderScan *scan)
{
	const union MHD_ConnectionInfo *info;
	size_t		expected;

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, ScanHeader, scan);
	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	expected = strlen(method) + 1 + strlen(raw_uri) + 1 + strlen(version) + 2 +
		scan->bytes + 2;
	if (scan->odd || info == NULL || info->header_size != expected)
		return "malformed request head (NUL byte, bare LF or folded line)";
	if (scan->control)
		return "control character in a header value";
	if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && scan->host == 0)
		return "HTTP/1.1 request without Host";
	if (scan->host > 1)
		return "more than one Host header";
	if (scan->content_length > 0 && scan->transfer_encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	if (scan->content_length > 1)
		return "more than one Content-Length header";
	if (scan->transfer_encoding > 1 ||
		(scan->transfer_encoding == 1 && strcasecmp(scan->te, "chunked") != 0))
		return "Transfer-Encoding other than chunked";
	return NULL;
}

/*
 * RawPathIs
 *		True if the request target as sent, without its query, is exactly
 *		path.  Any percent-encoding is no match: "%2F", "%00" and the like are
 *		never decoded into the webhook's path.
 */
bool
RawPathIs(const char *raw_uri, const char *path)
{
	size_t		len = strcspn(raw_uri, "?");

	return memchr(raw_uri, '%', len) == NULL &&
		len == strlen(path) && strncmp(raw_uri, path, len) == 0;
}
