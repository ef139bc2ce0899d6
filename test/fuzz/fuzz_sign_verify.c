/*-------------------------------------------------------------------------
 *
 * fuzz_sign_verify.c
 *		libFuzzer target: round trips between signing and verifying.
 *
 * Input layout:
 *
 *	  8 bytes	t (little-endian int64), the timestamp to sign with
 *	  8 bytes	little-endian: bits 0-31 the age (int32; now = t + age),
 *				bits 32-47 the tolerance - 1 (1..65536), bits 48-63 the
 *				position of a payload byte to tamper with
 *	  1 byte	secret length S
 *	  S bytes	secret
 *	  rest		payload
 *
 * Invariants:
 *	- stripe_sig_format_header() writes "t=<t>,v1=<64 lower-case hex>" and
 *	  the hex equals OpenSSL's one-shot HMAC over "<t>." payload;
 *	- verify(sign(x)) is OK (tolerance off) for every t that all Stripe
 *	  libraries read the same way (|t| < 10^15, t != -1), and never a
 *	  mismatch for any other t (only OK or BAD_HEADER); except that a
 *	  payload starting with a UTF-8 byte order mark is always a mismatch;
 *	- with a tolerance: OK exactly when now - t <= tolerance;
 *	- the parse of the formatted header gives back t;
 *	- extra v0/v1/unknown elements and a leading zero on t keep it OK;
 *	- one changed payload byte, an appended byte, another secret, the
 *	  upper-cased signature or one wrong hex digit give MISMATCH.
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

#define SAFE_T_LIMIT	INT64_C(1000000000000000)	/* 10^15 < 2^53 */

/*
 * Verify
 *		stripe_sig_verify() on a NUL-terminated header.
 */
static StripeSigStatus
Verify(const char *payload, size_t plen, const char *header,
	   const char *secret, size_t slen, int64_t tol, int64_t now)
{
	size_t		hlen = strlen(header);
	char	   *copy = malloc(hlen > 0 ? hlen : 1);
	StripeSigStatus st;

	FUZZ_CHECK(copy != NULL);
	memcpy(copy, header, hlen);
	st = stripe_sig_verify(payload, plen, copy, hlen, secret, slen, tol, now);
	free(copy);
	return st;
}

/*
 * LLVMFuzzerTestOneInput
 *		Sign, then verify the result and its variants.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	int64_t		t = (int64_t) FuzzTakeU64(&in);
	uint64_t	params = FuzzTakeU64(&in);
	int32_t		age = (int32_t) (uint32_t) (params & 0xffffffffu);
	int64_t		tol = (int64_t) ((params >> 32) & 0xffff) + 1;
	size_t		pos = (size_t) (params >> 48);
	size_t		want_secret;
	size_t		slen,
				plen;
	char	   *secret,
			   *payload;
	StripeSigKey *key;
	char		header[STRIPE_SIG_MAX_FORMATTED];
	char		prefix[STRIPE_SIG_MAX_TSTR + 8];
	char		ref[STRIPE_SIG_HEX_LEN + 1];
	char		big[STRIPE_SIG_MAX_FORMATTED + 256];
	int			n;
	int			safe_t;
	const char *hex;
	StripeSigStatus st;

	want_secret = FuzzTakeU8(&in);
	secret = FuzzTakeBytes(&in, want_secret, &slen);
	payload = FuzzTakeBytes(&in, in.n, &plen);

	key = stripe_sig_key_new(secret, slen);
	if (slen == 0)
	{
		FUZZ_CHECK(key == NULL);
		goto done;
	}
	FUZZ_CHECK(key != NULL);

	/* the header as Stripe writes it, checked against the reference HMAC */
	n = stripe_sig_format_header(key, t, payload, plen, header, sizeof(header));
	FUZZ_CHECK(n > 0 && (size_t) n < sizeof(header) && (size_t) n == strlen(header));
	snprintf(prefix, sizeof(prefix), "%lld.", (long long) t);
	FUZZ_CHECK(strncmp(header, "t=", 2) == 0);
	FUZZ_CHECK(strncmp(header + 2, prefix, strlen(prefix) - 1) == 0);
	hex = header + 2 + strlen(prefix) - 1;
	FUZZ_CHECK(strncmp(hex, ",v1=", 4) == 0);
	hex += 4;
	FUZZ_CHECK(strlen(hex) == STRIPE_SIG_HEX_LEN);
	FuzzRefHex(secret, slen, prefix, strlen(prefix), payload, plen, ref);
	FUZZ_CHECK(strcmp(hex, ref) == 0);
	/* too small a buffer is refused, never overrun */
	FUZZ_CHECK(stripe_sig_format_header(key, t, payload, plen, big, (size_t) n) == -1);

	if (stripe_sig_secret_is_blank(secret, slen) || plen == 0)
	{
		st = Verify(payload, plen, header, secret, slen, 0, t);
		FUZZ_CHECK(st == (plen == 0 && !stripe_sig_secret_is_blank(secret, slen) ?
						  STRIPE_SIG_NO_PAYLOAD : STRIPE_SIG_NO_SECRET));
		goto done;
	}

	safe_t = t > -SAFE_T_LIMIT && t < SAFE_T_LIMIT && t != -1;
	st = Verify(payload, plen, header, secret, slen, 0, t);
	if (plen >= 3 && memcmp(payload, "\xef\xbb\xbf", 3) == 0)
	{
		/* signed, yet never accepted: the libraries disagree on the mark */
		FUZZ_CHECK(st == STRIPE_SIG_MISMATCH || (!safe_t && st == STRIPE_SIG_BAD_HEADER));
		goto done;
	}
	if (safe_t)
		FUZZ_CHECK(st == STRIPE_SIG_OK);
	else
	{
		/* a t some library would read differently: refuse, never mismatch */
		FUZZ_CHECK(st == STRIPE_SIG_OK || st == STRIPE_SIG_BAD_HEADER);
		goto done;
	}

	/* the parse gives back t */
	{
		StripeSigHeader hdr;

		FUZZ_CHECK(stripe_sig_parse_header(header, (size_t) n, &hdr) == STRIPE_SIG_OK);
		FUZZ_CHECK(hdr.timestamp == t && strcmp(hdr.tstr, prefix) == 0);
		FUZZ_CHECK(hdr.nv1 == 1 && hdr.v1_len[0] == STRIPE_SIG_HEX_LEN);
	}

	/* tolerance: OK exactly when the age does not exceed it */
	st = Verify(payload, plen, header, secret, slen, tol, t + age);
	FUZZ_CHECK(st == ((int64_t) age > tol ? STRIPE_SIG_TOLERANCE : STRIPE_SIG_OK));
	FUZZ_CHECK(Verify(payload, plen, header, secret, slen, -tol, t) == STRIPE_SIG_TOLERANCE);

	/* other elements around it, a rolled secret's v1, a leading zero */
	snprintf(big, sizeof(big), "v1=%064d,%s,v0=%s,v1=%.64s", 0, header, ref, ref + 1);
	FUZZ_CHECK(Verify(payload, plen, big, secret, slen, 0, t) == STRIPE_SIG_OK);
	if (t >= 0)
	{
		snprintf(big, sizeof(big), "t=0%s", header + 2);
		FUZZ_CHECK(Verify(payload, plen, big, secret, slen, 0, t) == STRIPE_SIG_OK);
	}

	/* upper-case hex is not the signature */
	if (strpbrk(ref, "abcdef") != NULL)
	{
		size_t		k;

		snprintf(big, sizeof(big), "%s", header);
		for (k = strlen(big) - STRIPE_SIG_HEX_LEN; big[k]; k++)
			if (big[k] >= 'a' && big[k] <= 'f')
				big[k] = (char) (big[k] - 'a' + 'A');
		FUZZ_CHECK(Verify(payload, plen, big, secret, slen, 0, t) == STRIPE_SIG_MISMATCH);
	}

	/* one hex digit off, first or last, is not the signature */
	{
		size_t		k;

		for (k = 0; k < 2; k++)
		{
			char	   *d;

			snprintf(big, sizeof(big), "%s", header);
			d = k == 0 ? big + strlen(big) - STRIPE_SIG_HEX_LEN : big + strlen(big) - 1;
			*d = *d == '0' ? '1' : '0';
			FUZZ_CHECK(Verify(payload, plen, big, secret, slen, 0, t) == STRIPE_SIG_MISMATCH);
		}
	}

	/* a changed or longer payload, or another secret, does not verify */
	{
		char	   *tampered = malloc(plen + 1);
		char	   *other = malloc(slen + 1);

		FUZZ_CHECK(tampered != NULL && other != NULL);
		memcpy(tampered, payload, plen);
		tampered[pos % plen] ^= (char) (1 + (pos >> 8) % 255);
		FUZZ_CHECK(Verify(tampered, plen, header, secret, slen, 0, t) == STRIPE_SIG_MISMATCH);
		memcpy(tampered, payload, plen);
		tampered[plen] = '\n';
		FUZZ_CHECK(Verify(tampered, plen + 1, header, secret, slen, 0, t) == STRIPE_SIG_MISMATCH);
		memcpy(other, secret, slen);
		other[slen] = 'x';
		FUZZ_CHECK(Verify(payload, plen, header, other, slen + 1, 0, t) == STRIPE_SIG_MISMATCH);
		free(tampered);
		free(other);
	}

done:
	stripe_sig_key_free(key);
	free(secret);
	free(payload);
	return 0;
}
