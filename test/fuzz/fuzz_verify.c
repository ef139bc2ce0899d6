/*-------------------------------------------------------------------------
 *
 * fuzz_verify.c
 *		libFuzzer target: the whole verification, stripe_sig_verify() and
 *		stripe_sig_verify_key(), with a random payload, secret, header,
 *		tolerance and clock.
 *
 * Input layout (test/fuzz/make_seeds.py writes seeds in it):
 *
 *	  8 bytes	now (Unix seconds, little-endian int64)
 *	  8 bytes	tolerance (little-endian int64)
 *	  1 byte	secret length S
 *	  2 bytes	header length H (little-endian; cut to what is left)
 *	  S bytes	secret
 *	  H bytes	header
 *	  rest		payload
 *
 * Every verdict is re-derived independently: the header is parsed, the
 * expected signature is computed with OpenSSL's one-shot HMAC() and looked
 * up with memcmp (a payload starting with a UTF-8 byte order mark never
 * matches), and the age rule (reject when now - t > tolerance, 0
 * disables, negative rejects) is evaluated in 128-bit arithmetic.  The
 * one-shot entry point, a keyed context and a duplicated context must all
 * agree with that verdict.
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

/*
 * ExpectedAge
 *		The age rule in exact arithmetic; -1 when the inputs are so extreme
 *		(beyond the parser's clamp) that only "no crash" is asserted.
 */
static int
ExpectedAge(const StripeSigHeader *hdr, int64_t tolerance, int64_t now)
{
	__int128	age;

	if (tolerance < 0)
		return STRIPE_SIG_TOLERANCE;
	if (tolerance == 0)
		return STRIPE_SIG_OK;
	if (hdr->timestamp <= -STRIPE_SIG_TS_CLAMP || hdr->timestamp >= STRIPE_SIG_TS_CLAMP ||
		now < -STRIPE_SIG_TS_CLAMP || now > STRIPE_SIG_TS_CLAMP ||
		tolerance > STRIPE_SIG_TS_CLAMP)
		return -1;
	age = (__int128) now - (__int128) hdr->timestamp;
	return age > (__int128) tolerance ? STRIPE_SIG_TOLERANCE : STRIPE_SIG_OK;
}

/*
 * ExpectedVerdict
 *		What the verification must answer, derived without the code under
 *		test except for the header parse (checked by fuzz_header); -1 if any
 *		of OK/TOLERANCE is acceptable (clamped extremes).
 */
static int
ExpectedVerdict(const char *payload, size_t plen, const char *header, size_t hlen,
				const char *secret, size_t slen, int64_t tolerance, int64_t now)
{
	StripeSigHeader hdr;
	StripeSigStatus pst;
	char		hex[STRIPE_SIG_HEX_LEN + 1];

	if (stripe_sig_secret_is_blank(secret, slen))
		return STRIPE_SIG_NO_SECRET;
	if (plen == 0)
		return STRIPE_SIG_NO_PAYLOAD;
	pst = stripe_sig_parse_header(header, hlen, &hdr);
	if (pst != STRIPE_SIG_OK)
		return pst;
	FuzzRefHex(secret, slen, hdr.tstr, hdr.tstr_len, payload, plen, hex);
	/* a payload starting with a UTF-8 byte order mark matches nothing */
	if (!FuzzHeaderHasV1(&hdr, hex) ||
		(plen >= 3 && memcmp(payload, "\xef\xbb\xbf", 3) == 0))
		return STRIPE_SIG_MISMATCH;
	return ExpectedAge(&hdr, tolerance, now);
}

/*
 * Agrees
 *		Does a status match the expected verdict (-1: OK or TOLERANCE)?
 */
static int
Agrees(StripeSigStatus st, int expected)
{
	if (expected < 0)
		return st == STRIPE_SIG_OK || st == STRIPE_SIG_TOLERANCE;
	return (int) st == expected;
}

/*
 * LLVMFuzzerTestOneInput
 *		Verify the sliced input three ways and compare with the reference.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	int64_t		now = (int64_t) FuzzTakeU64(&in);
	int64_t		tolerance = (int64_t) FuzzTakeU64(&in);
	size_t		want_secret = FuzzTakeU8(&in);
	size_t		want_header = FuzzTakeU8(&in);
	size_t		slen,
				hlen,
				plen;
	char	   *secret,
			   *header,
			   *payload;
	StripeSigStatus st;
	int			expected;

	want_header |= (size_t) FuzzTakeU8(&in) << 8;
	secret = FuzzTakeBytes(&in, want_secret, &slen);
	header = FuzzTakeBytes(&in, want_header, &hlen);
	payload = FuzzTakeBytes(&in, in.n, &plen);

	expected = ExpectedVerdict(payload, plen, header, hlen, secret, slen, tolerance, now);

	st = stripe_sig_verify(payload, plen, header, hlen, secret, slen, tolerance, now);
	FUZZ_CHECK(FuzzStatusValid(st));
	FUZZ_CHECK(st != STRIPE_SIG_INTERNAL);
	if (!Agrees(st, expected))
	{
		fprintf(stderr, "stripe_sig_verify: %d, expected %d\n", (int) st, expected);
		FUZZ_CHECK(Agrees(st, expected));
	}
	FUZZ_CHECK(stripe_sig_status_message(st) != NULL);

	/* a keyed context, and a duplicate of it, give the same answer */
	if (slen > 0)
	{
		StripeSigKey *key = stripe_sig_key_new(secret, slen);
		StripeSigKey *dup;
		StripeSigHeader hdr;
		StripeSigStatus st2;

		FUZZ_CHECK(key != NULL);
		dup = stripe_sig_key_dup(key);
		FUZZ_CHECK(dup != NULL);
		st2 = stripe_sig_verify_key(key, payload, plen, header, hlen, tolerance, now, &hdr);
		if (st != STRIPE_SIG_NO_SECRET)
			FUZZ_CHECK(st2 == st);
		/* twice with the same key: the keyed state is restarted each time */
		FUZZ_CHECK(stripe_sig_verify_key(key, payload, plen, header, hlen, tolerance, now, NULL) == st2);
		stripe_sig_key_free(key);
		/* the duplicate outlives the original */
		FUZZ_CHECK(stripe_sig_verify_key(dup, payload, plen, header, hlen, tolerance, now, NULL) == st2);
		stripe_sig_key_free(dup);
	}
	else
		FUZZ_CHECK(stripe_sig_key_new(secret, slen) == NULL);

	free(secret);
	free(header);
	free(payload);
	return 0;
}
