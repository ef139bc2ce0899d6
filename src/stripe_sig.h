/*-------------------------------------------------------------------------
 *
 * stripe_sig.h
 *		Stripe-Signature header parsing and HMAC-SHA256 verification in plain
 *		C (OpenSSL only, no PostgreSQL headers), so that it can be unit-tested
 *		and fuzzed outside the server.
 *
 * The rule for every parsing detail: accept only what both python3-stripe
 * (WebhookSignature.verify_header) and stripe-node (webhooks.signature.
 * verifyHeader with a string payload) accept; where they differ, reject.
 * See doc/design.md for the table of header edge cases.
 *
 * Typical use:
 *
 *		StripeSigKey *key = stripe_sig_key_new(secret, secret_len);
 *		status = stripe_sig_verify_key(key, payload, payload_len,
 *									   header, header_len, 300, now);
 *		...
 *		stripe_sig_key_free(key);
 *
 * A StripeSigKey holds an HMAC context keyed once with the secret; every
 * signature computed with it restarts from that keyed state, so repeated
 * verifications skip the key schedule.  A key may be used by one thread at
 * a time; stripe_sig_key_dup() gives another thread its own copy.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_SIG_H
#define STRIPE_SIG_H

#include <stddef.h>
#include <stdint.h>

#define STRIPE_SIG_MAX_HEADER	8192	/* longer headers are rejected */
#define STRIPE_SIG_MAX_V1		64		/* at most this many v1 values considered */
#define STRIPE_SIG_HEX_LEN		64		/* lower-case hex HMAC-SHA256 */

/*
 * Longest decimal(t) we sign: an optional '-', at most 21 significant digits
 * (|t| < 10^21, beyond which JavaScript prints an exponent), and the "."
 * that separates it from the payload.
 */
#define STRIPE_SIG_MAX_TSTR		23

/* Longest header stripe_sig_format_header() writes: "t=" tstr ",v1=" hex */
#define STRIPE_SIG_MAX_FORMATTED	(2 + STRIPE_SIG_MAX_TSTR + 4 + STRIPE_SIG_HEX_LEN + 1)

typedef enum StripeSigStatus
{
	STRIPE_SIG_OK = 0,
	STRIPE_SIG_BAD_HEADER,		/* unable to extract timestamp and signatures */
	STRIPE_SIG_NO_SCHEME,		/* no signatures found with expected scheme v1 */
	STRIPE_SIG_TOLERANCE,		/* timestamp outside the tolerance zone */
	STRIPE_SIG_MISMATCH,		/* no signatures matching the expected signature */
	STRIPE_SIG_NO_PAYLOAD,		/* empty payload: stripe-node refuses it */
	STRIPE_SIG_NO_SECRET,		/* empty or blank secret: never a match */
	STRIPE_SIG_INTERNAL			/* OpenSSL failed (out of memory, ...) */
} StripeSigStatus;

/*
 * A parsed Stripe-Signature header.  The v1 pointers point into the header
 * buffer given to stripe_sig_parse_header(), which must outlive this struct.
 */
typedef struct StripeSigHeader
{
	int64_t		timestamp;		/* t; clamped to +-STRIPE_SIG_TS_CLAMP */
	char		tstr[STRIPE_SIG_MAX_TSTR + 1];	/* decimal(t) "." (signed
												 * prefix), NUL-terminated */
	size_t		tstr_len;		/* strlen(tstr), the "." included */
	int			nv1;			/* v1 values kept in v1[] */
	int			nv1_total;		/* v1 elements in the header (may be more) */
	const char *v1[STRIPE_SIG_MAX_V1];	/* v1 values, not NUL-terminated */
	size_t		v1_len[STRIPE_SIG_MAX_V1];
	const char *detail;			/* why parsing failed (a sentence), or NULL */
} StripeSigHeader;

/* |t| beyond this is clamped for the age arithmetic (no overflow) */
#define STRIPE_SIG_TS_CLAMP		INT64_C(4000000000000000000)

/* A secret keyed into an HMAC-SHA256 context; opaque */
typedef struct StripeSigKey StripeSigKey;

/* Message for a status, worded as Stripe's libraries word it */
extern const char *stripe_sig_status_message(StripeSigStatus status);

/* True if the secret is empty or only ASCII whitespace (as stripe-node) */
extern int	stripe_sig_secret_is_blank(const char *secret, size_t secret_len);

/* Parse a header: STRIPE_SIG_OK, _BAD_HEADER or _NO_SCHEME */
extern StripeSigStatus stripe_sig_parse_header(const char *header, size_t header_len,
											   StripeSigHeader *out);

/* Key an HMAC-SHA256 context with the secret's bytes; NULL on failure */
extern StripeSigKey *stripe_sig_key_new(const char *secret, size_t secret_len);

/* An independent copy of a key (EVP_MAC_CTX_dup); NULL on failure */
extern StripeSigKey *stripe_sig_key_dup(const StripeSigKey *key);

/* Wipe and free a key; NULL is allowed */
extern void stripe_sig_key_free(StripeSigKey *key);

/*
 * Lower-case hex HMAC-SHA256 of prefix || payload (prefix is decimal(t) "."),
 * NUL-terminated in hex[STRIPE_SIG_HEX_LEN + 1].  Returns 1, or 0 if OpenSSL
 * failed.
 */
extern int	stripe_sig_key_sign(StripeSigKey *key, const char *prefix, size_t prefix_len,
								const char *payload, size_t payload_len, char *hex);

/* 1 if any v1 of the header equals hex (constant time per value), else 0 */
extern int	stripe_sig_header_matches(const StripeSigHeader *hdr, const char *hex);

/*
 * 1 if the payload starts with a UTF-8 byte order mark (EF BB BF): such a
 * payload never matches, as the two Stripe libraries disagree on it.
 */
extern int	stripe_sig_payload_has_bom(const char *payload, size_t payload_len);

/*
 * Does the key sign the payload as one of the header's v1 values?  1 yes,
 * 0 no (always for a payload starting with a byte order mark), -1 OpenSSL
 * failed.
 */
extern int	stripe_sig_key_match(StripeSigKey *key, const StripeSigHeader *hdr,
								 const char *payload, size_t payload_len);

/*
 * Age check: STRIPE_SIG_OK or STRIPE_SIG_TOLERANCE.  tolerance 0 disables
 * it, a negative tolerance rejects; the age is now_unix - t and may equal
 * the tolerance.  Future timestamps pass (as in both libraries).  Callers
 * with sub-second clocks pass now rounded up (see README).
 */
extern StripeSigStatus stripe_sig_check_age(const StripeSigHeader *hdr, int64_t tolerance,
											int64_t now_unix);

/*
 * The whole check with one key, in Stripe's order: empty payload, header,
 * signature, age.  hdr_out (may be NULL) receives the parsed header, for
 * its detail and timestamp.
 */
extern StripeSigStatus stripe_sig_verify_key(StripeSigKey *key,
											 const char *payload, size_t payload_len,
											 const char *header, size_t header_len,
											 int64_t tolerance, int64_t now_unix,
											 StripeSigHeader *hdr_out);

/* The whole check with a secret (keys a context for this call only) */
extern StripeSigStatus stripe_sig_verify(const char *payload, size_t payload_len,
										 const char *header, size_t header_len,
										 const char *secret, size_t secret_len,
										 int64_t tolerance, int64_t now_unix);

/*
 * Write "t=<t>,v1=<hex>" (stripe-node's generateTestHeaderString format) to
 * out (at least STRIPE_SIG_MAX_FORMATTED bytes).  Returns its length, or -1
 * if OpenSSL failed.
 */
extern int	stripe_sig_format_header(StripeSigKey *key, int64_t t,
									 const char *payload, size_t payload_len,
									 char *out, size_t out_size);

#endif							/* STRIPE_SIG_H */
