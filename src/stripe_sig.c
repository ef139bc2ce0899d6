/*-------------------------------------------------------------------------
 *
 * stripe_sig.c
 *		Stripe-Signature header parsing and HMAC-SHA256 verification in plain
 *		C: OpenSSL only, no PostgreSQL headers (see stripe_sig.h).
 *
 * Header grammar as both Stripe libraries read it: the header is split at
 * every ',' into elements; in each element the key is the text before the
 * first '=' and the value the text between the first and the second '='
 * (or the end).  Keys are matched exactly ("t", "v1"); everything else is
 * ignored.  Where python3-stripe and stripe-node read a header differently
 * we reject it:
 *
 *	- t must be a decimal integer that Python's int() and JavaScript's
 *	  parseInt(v, 10) read as the same number and that both print back the
 *	  same way: ASCII digits with an optional sign, whitespace both accept
 *	  around it, no '_', no fraction, at most 4300 digits (Python's limit),
 *	  no value where JavaScript rounds (above 2^53) and prints differently,
 *	  and not -1 (stripe-node's "missing" marker).
 *	- every t element must carry the same value (Python takes the first,
 *	  node the last).
 *	- a bare or empty v1, or a v1 with non-ASCII text, makes node or Python
 *	  abort with an exception: the whole header is rejected.
 *
 * The same rule holds for the payload: one that starts with a UTF-8 byte
 * order mark (EF BB BF, U+FEFF) never matches.  stripe-node, given the raw
 * body as a Buffer (what Express's raw() parser hands it), decodes it with
 * a TextDecoder that strips the mark and signs what is left; python3-stripe
 * signs it whole.
 *
 * The HMAC key is the secret's bytes as given (the whole "whsec_..."
 * string); the message is decimal(t) "." payload; signatures are compared
 * as lower-case hex in constant time (CRYPTO_memcmp).
 *
 *-------------------------------------------------------------------------
 */
#include "stripe_sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Python refuses to convert decimal strings longer than this (3.11+) */
#define PY_INT_MAX_STR_DIGITS	4300

/* 2^53 has 16 digits: from there on JavaScript numbers may round */
#define JS_EXACT_DIGITS			15

/* At most this many significant digits (values below 10^21) */
#define MAX_SIGNIFICANT_DIGITS	21

struct StripeSigKey
{
	EVP_MAC_CTX *ctx;			/* keyed HMAC-SHA256; restarted per message */
};

static const char hexdigits[] = "0123456789abcdef";

/* UTF-8 encoding of U+FEFF, the byte order mark */
static const char utf8_bom[] = "\xef\xbb\xbf";

/*
 * stripe_sig_status_message
 *		Stripe's wording of a status (python3-stripe's, where the libraries
 *		word it differently).
 */
const char *
stripe_sig_status_message(StripeSigStatus status)
{
	switch (status)
	{
		case STRIPE_SIG_OK:
			return "Signature verified";
		case STRIPE_SIG_BAD_HEADER:
			return "Unable to extract timestamp and signatures from header";
		case STRIPE_SIG_NO_SCHEME:
			return "No signatures found with expected scheme v1";
		case STRIPE_SIG_TOLERANCE:
			return "Timestamp outside the tolerance zone";
		case STRIPE_SIG_MISMATCH:
			return "No signatures found matching the expected signature for payload";
		case STRIPE_SIG_NO_PAYLOAD:
			return "No webhook payload was provided";
		case STRIPE_SIG_NO_SECRET:
			return "No webhook secret value was provided";
		case STRIPE_SIG_INTERNAL:
			return "Internal error while computing HMAC-SHA256";
	}
	return "Unknown signature verification status";
}

/*
 * stripe_sig_secret_is_blank
 *		stripe-node (isBlankWebhookSecret) refuses a secret that is empty or
 *		made only of space, \t, \r, \n, \f, \v; so do we.
 */
int
stripe_sig_secret_is_blank(const char *secret, size_t secret_len)
{
	size_t		i;

	for (i = 0; i < secret_len; i++)
	{
		char		c = secret[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v')
			return 0;
	}
	return 1;
}

/*
 * WhitespaceLength
 *		Length in bytes of the UTF-8 whitespace character at p (0 if p does
 *		not start with one) that both Python's int() and JavaScript's
 *		parseInt() skip.
 *
 * Leading whitespace must be in both sets: ASCII \t \n \v \f \r and space,
 * U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
 * (Python also skips U+0085, JavaScript also U+FEFF.)  After the digits
 * parseInt() ignores everything, so trailing whitespace is Python's set:
 * the same plus U+0085.
 */
static size_t
WhitespaceLength(const unsigned char *p, size_t n, int trailing)
{
	if (n >= 1 && ((p[0] >= 0x09 && p[0] <= 0x0d) || p[0] == 0x20))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0xa0 || (trailing && p[1] == 0x85)))
		return 2;
	if (n >= 3)
	{
		if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)	/* U+1680 */
			return 3;
		if (p[0] == 0xe2 && p[1] == 0x80 &&
			((p[2] >= 0x80 && p[2] <= 0x8a) ||	/* U+2000..U+200A */
			 p[2] == 0xa8 || p[2] == 0xa9 ||	/* U+2028, U+2029 */
			 p[2] == 0xaf))		/* U+202F */
			return 3;
		if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)	/* U+205F */
			return 3;
		if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)	/* U+3000 */
			return 3;
	}
	return 0;
}

/*
 * JsPrintsSameDigits
 *		Would JavaScript, after parseInt() of these significant digits (no
 *		leading zero, at most MAX_SIGNIFICANT_DIGITS), print the same digits
 *		back in `${t}`?  It parses to the nearest double and prints the
 *		shortest digits that round-trip, padded with zeros, or an exponent
 *		from 10^21 on.  Python prints the exact integer.
 */
static int
JsPrintsSameDigits(const char *digits, size_t ndigits)
{
	char		in[MAX_SIGNIFICANT_DIGITS + 1];
	char		buf[64];
	char		mant[32];
	double		d;
	int			prec;
	int			exp10;
	size_t		nmant = 0;
	size_t		i;
	char	   *e;

	if (ndigits <= JS_EXACT_DIGITS)
		return 1;				/* below 10^15 < 2^53: exact */
	memcpy(in, digits, ndigits);
	in[ndigits] = '\0';
	d = strtod(in, NULL);		/* correctly rounded, as V8's parseInt */
	if (!(d < 1e21))
		return 0;				/* JavaScript switches to "1e+21" */

	/* shortest %e rendering that reads back as the same double */
	for (prec = 0; prec < 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*e", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	e = strchr(buf, 'e');
	if (e == NULL)
		return 0;
	exp10 = atoi(e + 1);
	for (i = 0; buf + i < e && nmant < sizeof(mant); i++)
		if (buf[i] >= '0' && buf[i] <= '9')
			mant[nmant++] = buf[i];

	/* JavaScript prints the mantissa digits padded with zeros to exp10 + 1 */
	if (exp10 < 0 || (size_t) exp10 + 1 != ndigits || nmant > ndigits)
		return 0;
	if (memcmp(mant, digits, nmant) != 0)
		return 0;
	for (i = nmant; i < ndigits; i++)
		if (digits[i] != '0')
			return 0;
	return 1;
}

/*
 * ParseTimestamp
 *		Parse a t value (see the file header).  On success fill hdr->tstr
 *		with decimal(t) "." and hdr->timestamp, and return 1; otherwise set
 *		hdr->detail and return 0.
 */
static int
ParseTimestamp(const char *value, size_t len, StripeSigHeader *hdr)
{
	const unsigned char *p = (const unsigned char *) value;
	size_t		i = 0;
	size_t		w;
	size_t		start;
	size_t		ndigits;
	int			negative = 0;
	int64_t		ts = 0;
	char	   *out;

	hdr->detail = "The t value is not a plain decimal integer.";
	while (i < len && (w = WhitespaceLength(p + i, len - i, 0)) > 0)
		i += w;
	if (i < len && (p[i] == '+' || p[i] == '-'))
		negative = (p[i++] == '-');
	start = i;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	ndigits = i - start;
	if (ndigits == 0)
		return 0;
	while (i < len)
	{
		w = WhitespaceLength(p + i, len - i, 1);
		if (w == 0)
			return 0;			/* trailing junk, '_', '.', other digits */
		i += w;
	}
	if (ndigits > PY_INT_MAX_STR_DIGITS)
	{
		hdr->detail = "The t value has more digits than Python accepts.";
		return 0;
	}

	/* significant digits */
	while (ndigits > 1 && p[start] == '0')
	{
		start++;
		ndigits--;
	}
	if (ndigits == 1 && p[start] == '0')
		negative = 0;			/* -0 is signed as 0 by both */
	if (ndigits > MAX_SIGNIFICANT_DIGITS ||
		!JsPrintsSameDigits(value + start, ndigits))
	{
		hdr->detail = "The t value is too large for every Stripe library to sign it the same way.";
		return 0;
	}

	/* the value, clamped for the age arithmetic */
	for (i = start; i < start + ndigits; i++)
	{
		if (ts > (STRIPE_SIG_TS_CLAMP - 9) / 10)
		{
			ts = STRIPE_SIG_TS_CLAMP;
			break;
		}
		ts = ts * 10 + (p[i] - '0');
	}
	if (negative && ts == 1)
	{
		hdr->detail = "t=-1 is stripe-node's marker for a missing timestamp.";
		return 0;
	}
	hdr->timestamp = negative ? -ts : ts;

	out = hdr->tstr;
	if (negative)
		*out++ = '-';
	memcpy(out, value + start, ndigits);
	out += ndigits;
	*out++ = '.';
	*out = '\0';
	hdr->tstr_len = out - hdr->tstr;
	hdr->detail = NULL;
	return 1;
}

/*
 * StripeSigHeaderInit
 *		Reset the scalar fields of a header; the v1 arrays are only read up
 *		to nv1, so they need no clearing (this runs on every call).
 */
static void
StripeSigHeaderInit(StripeSigHeader *hdr)
{
	hdr->timestamp = 0;
	hdr->tstr[0] = '\0';
	hdr->tstr_len = 0;
	hdr->nv1 = 0;
	hdr->nv1_total = 0;
	hdr->detail = NULL;
}

/*
 * stripe_sig_parse_header
 *		Split a Stripe-Signature header into its timestamp and v1 values.
 *		Returns STRIPE_SIG_OK, STRIPE_SIG_BAD_HEADER (out->detail says why)
 *		or STRIPE_SIG_NO_SCHEME.  Nothing is allocated.
 */
StripeSigStatus
stripe_sig_parse_header(const char *header, size_t header_len, StripeSigHeader *out)
{
	const char *end;
	const char *p = header;
	int			have_t = 0;
	StripeSigHeader tmp;

	StripeSigHeaderInit(out);
	if (header == NULL || header_len == 0)
	{
		out->detail = "The header is empty.";
		return STRIPE_SIG_BAD_HEADER;
	}
	end = header + header_len;
	if (header_len > STRIPE_SIG_MAX_HEADER)
	{
		out->detail = "The header is longer than 8192 bytes.";
		return STRIPE_SIG_BAD_HEADER;
	}

	/* one pass over the bytes: key up to '=' or ',', value up to '=' or ',' */
	while (1)
	{
		const char *key = p;
		const char *value = NULL;
		size_t		key_len;
		size_t		value_len = 0;
		unsigned char high = 0; /* OR of the value's bytes */

		while (p < end && *p != '=' && *p != ',')
			p++;
		key_len = p - key;
		if (p < end && *p == '=')
		{
			value = ++p;
			while (p < end && *p != '=' && *p != ',')
				high |= (unsigned char) *p++;
			value_len = p - value;
			while (p < end && *p != ',')	/* text after a second '=' */
				p++;
		}

		if (key_len == 1 && key[0] == 't')
		{
			if (value == NULL)
			{
				out->detail = "A t element has no value.";
				return STRIPE_SIG_BAD_HEADER;
			}
			if (!have_t)
			{
				if (!ParseTimestamp(value, value_len, out))
					return STRIPE_SIG_BAD_HEADER;
				have_t = 1;
			}
			else
			{
				StripeSigHeaderInit(&tmp);
				if (!ParseTimestamp(value, value_len, &tmp))
				{
					out->detail = tmp.detail;
					return STRIPE_SIG_BAD_HEADER;
				}
				if (strcmp(tmp.tstr, out->tstr) != 0)
				{
					out->detail = "The header has several t elements with different values.";
					return STRIPE_SIG_BAD_HEADER;
				}
			}
		}
		else if (key_len == 2 && key[0] == 'v' && key[1] == '1')
		{
			if (value == NULL || value_len == 0)
			{
				out->detail = "A v1 element has no value.";
				return STRIPE_SIG_BAD_HEADER;
			}
			if (high & 0x80)
			{
				out->detail = "A v1 value contains non-ASCII characters.";
				return STRIPE_SIG_BAD_HEADER;
			}
			if (out->nv1 < STRIPE_SIG_MAX_V1)
			{
				out->v1[out->nv1] = value;
				out->v1_len[out->nv1] = value_len;
				out->nv1++;
			}
			out->nv1_total++;
		}

		if (p >= end)
			break;
		p++;					/* skip the ',' */
	}

	if (!have_t)
	{
		out->detail = "The header has no t element.";
		return STRIPE_SIG_BAD_HEADER;
	}
	if (out->nv1_total == 0)
	{
		out->detail = "The header has no v1 element (other schemes such as v0 are ignored).";
		return STRIPE_SIG_NO_SCHEME;
	}
	return STRIPE_SIG_OK;
}

/*
 * stripe_sig_key_new
 *		Key an HMAC-SHA256 context with the secret's bytes, exactly as given.
 *		Returns NULL if the secret is empty or OpenSSL fails.
 */
StripeSigKey *
stripe_sig_key_new(const char *secret, size_t secret_len)
{
	StripeSigKey *key;
	EVP_MAC    *mac;
	OSSL_PARAM	params[2];

	if (secret == NULL || secret_len == 0)
		return NULL;
	key = OPENSSL_zalloc(sizeof(StripeSigKey));
	if (key == NULL)
		return NULL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
	{
		OPENSSL_free(key);
		return NULL;
	}
	key->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);			/* the context keeps its own reference */
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (key->ctx == NULL ||
		!EVP_MAC_init(key->ctx, (const unsigned char *) secret, secret_len, params))
	{
		stripe_sig_key_free(key);
		return NULL;
	}
	return key;
}

/*
 * stripe_sig_key_dup
 *		An independent copy of a keyed context (for another thread).
 */
StripeSigKey *
stripe_sig_key_dup(const StripeSigKey *key)
{
	StripeSigKey *copy;

	if (key == NULL)
		return NULL;
	copy = OPENSSL_zalloc(sizeof(StripeSigKey));
	if (copy == NULL)
		return NULL;
	copy->ctx = EVP_MAC_CTX_dup(key->ctx);
	if (copy->ctx == NULL)
	{
		OPENSSL_free(copy);
		return NULL;
	}
	return copy;
}

/*
 * stripe_sig_key_free
 *		Free a key.  OpenSSL wipes the key material it holds when the
 *		context is freed.
 */
void
stripe_sig_key_free(StripeSigKey *key)
{
	if (key == NULL)
		return;
	EVP_MAC_CTX_free(key->ctx);
	OPENSSL_clear_free(key, sizeof(StripeSigKey));
}

/*
 * stripe_sig_key_sign
 *		Lower-case hex HMAC-SHA256 of prefix || payload.  EVP_MAC_init()
 *		without a key restarts from the keyed inner state (a copy of it):
 *		no key schedule, no allocation of a new context.
 */
int
stripe_sig_key_sign(StripeSigKey *key, const char *prefix, size_t prefix_len,
					const char *payload, size_t payload_len, char *hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		mac_len = 0;
	int			i;

	if (key == NULL || key->ctx == NULL)
		return 0;
	if (!EVP_MAC_init(key->ctx, NULL, 0, NULL) ||
		!EVP_MAC_update(key->ctx, (const unsigned char *) prefix, prefix_len) ||
		(payload_len > 0 &&
		 !EVP_MAC_update(key->ctx, (const unsigned char *) payload, payload_len)) ||
		!EVP_MAC_final(key->ctx, mac, &mac_len, sizeof(mac)) ||
		mac_len * 2 != STRIPE_SIG_HEX_LEN)
		return 0;
	for (i = 0; i < STRIPE_SIG_HEX_LEN / 2; i++)
	{
		hex[2 * i] = hexdigits[mac[i] >> 4];
		hex[2 * i + 1] = hexdigits[mac[i] & 0x0f];
	}
	hex[STRIPE_SIG_HEX_LEN] = '\0';
	return 1;
}

/*
 * stripe_sig_header_matches
 *		Compare the expected hex with every kept v1 value: text comparison
 *		(so upper-case hex never matches), constant time per value; only
 *		the length of each value is revealed by timing, as in Stripe's
 *		libraries.
 */
int
stripe_sig_header_matches(const StripeSigHeader *hdr, const char *hex)
{
	int			found = 0;
	int			i;

	for (i = 0; i < hdr->nv1; i++)
	{
		if (hdr->v1_len[i] == STRIPE_SIG_HEX_LEN &&
			CRYPTO_memcmp(hdr->v1[i], hex, STRIPE_SIG_HEX_LEN) == 0)
			found = 1;
	}
	return found;
}

/*
 * stripe_sig_payload_has_bom
 *		Does the payload start with a UTF-8 byte order mark?  Such a payload
 *		never matches (see the top of this file).
 */
int
stripe_sig_payload_has_bom(const char *payload, size_t payload_len)
{
	return payload_len >= 3 && memcmp(payload, utf8_bom, 3) == 0;
}

/*
 * stripe_sig_key_match
 *		Sign the payload with the header's timestamp and look for it among
 *		the header's v1 values.  A payload starting with a byte order mark
 *		matches nothing.
 */
int
stripe_sig_key_match(StripeSigKey *key, const StripeSigHeader *hdr,
					 const char *payload, size_t payload_len)
{
	char		hex[STRIPE_SIG_HEX_LEN + 1];

	if (!stripe_sig_key_sign(key, hdr->tstr, hdr->tstr_len, payload, payload_len, hex))
		return -1;
	if (stripe_sig_payload_has_bom(payload, payload_len))
		return 0;
	return stripe_sig_header_matches(hdr, hex);
}

/*
 * stripe_sig_check_age
 *		Both libraries reject when now - t > tolerance (age equal to the
 *		tolerance passes), skip the check for tolerance 0 and accept
 *		timestamps in the future.  A negative tolerance rejects (python
 *		enforces it, node ignores it).
 */
StripeSigStatus
stripe_sig_check_age(const StripeSigHeader *hdr, int64_t tolerance, int64_t now_unix)
{
	if (tolerance < 0)
		return STRIPE_SIG_TOLERANCE;
	if (tolerance == 0)
		return STRIPE_SIG_OK;
	/* |timestamp| <= 4e18; now and tolerance are far smaller in practice */
	if (now_unix > STRIPE_SIG_TS_CLAMP)
		now_unix = STRIPE_SIG_TS_CLAMP;
	if (now_unix < -STRIPE_SIG_TS_CLAMP)
		now_unix = -STRIPE_SIG_TS_CLAMP;
	if (tolerance > STRIPE_SIG_TS_CLAMP)
		tolerance = STRIPE_SIG_TS_CLAMP;
	if (now_unix - hdr->timestamp > tolerance)
		return STRIPE_SIG_TOLERANCE;
	return STRIPE_SIG_OK;
}

/*
 * stripe_sig_verify_key
 *		The whole check, in the order of Stripe's libraries: payload present
 *		(node), header, signature, then age.
 */
StripeSigStatus
stripe_sig_verify_key(StripeSigKey *key,
					  const char *payload, size_t payload_len,
					  const char *header, size_t header_len,
					  int64_t tolerance, int64_t now_unix,
					  StripeSigHeader *hdr_out)
{
	StripeSigHeader local;
	StripeSigHeader *hdr = hdr_out ? hdr_out : &local;
	StripeSigStatus status;
	int			match;

	StripeSigHeaderInit(hdr);
	if (payload_len == 0)
		return STRIPE_SIG_NO_PAYLOAD;
	status = stripe_sig_parse_header(header, header_len, hdr);
	if (status != STRIPE_SIG_OK)
		return status;
	if (key == NULL)
		return STRIPE_SIG_INTERNAL;
	match = stripe_sig_key_match(key, hdr, payload, payload_len);
	if (match < 0)
		return STRIPE_SIG_INTERNAL;
	if (match == 0)
		return STRIPE_SIG_MISMATCH;
	return stripe_sig_check_age(hdr, tolerance, now_unix);
}

/*
 * stripe_sig_verify
 *		One-shot check with a secret: keys a context for this call only.
 */
StripeSigStatus
stripe_sig_verify(const char *payload, size_t payload_len,
				  const char *header, size_t header_len,
				  const char *secret, size_t secret_len,
				  int64_t tolerance, int64_t now_unix)
{
	StripeSigKey *key;
	StripeSigStatus status;

	if (secret == NULL || stripe_sig_secret_is_blank(secret, secret_len))
		return STRIPE_SIG_NO_SECRET;
	key = stripe_sig_key_new(secret, secret_len);
	if (key == NULL)
		return STRIPE_SIG_INTERNAL;
	status = stripe_sig_verify_key(key, payload, payload_len, header, header_len,
								   tolerance, now_unix, NULL);
	stripe_sig_key_free(key);
	return status;
}

/*
 * stripe_sig_format_header
 *		"t=<t>,v1=<hex>", as stripe-node's generateTestHeaderString writes it.
 */
int
stripe_sig_format_header(StripeSigKey *key, int64_t t,
						 const char *payload, size_t payload_len,
						 char *out, size_t out_size)
{
	char		prefix[STRIPE_SIG_MAX_TSTR + 1];
	char		hex[STRIPE_SIG_HEX_LEN + 1];
	int			prefix_len;
	int			n;

	prefix_len = snprintf(prefix, sizeof(prefix), "%lld.", (long long) t);
	if (prefix_len <= 0 || (size_t) prefix_len >= sizeof(prefix))
		return -1;
	if (!stripe_sig_key_sign(key, prefix, prefix_len, payload, payload_len, hex))
		return -1;
	n = snprintf(out, out_size, "t=%lld,v1=%s", (long long) t, hex);
	if (n < 0 || (size_t) n >= out_size)
		return -1;
	return n;
}
