/*-------------------------------------------------------------------------
 *
 * test_sig.c
 *		Unit tests of src/stripe_sig.c outside PostgreSQL; prints TAP.
 *
 * HMAC known answers come from RFC 4231; signatures inside test headers
 * are computed with OpenSSL's one-shot HMAC(), independently of the keyed
 * contexts under test.  The header edge cases mirror the differential
 * vectors (test/vectors), where both Stripe libraries were run.
 *
 *-------------------------------------------------------------------------
 */
#include "stripe_sig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static int	ntests = 0;
static int	nfailed = 0;

#define SECRET	"whsec_test_secret"
#define NOW		INT64_C(1700000000)
#define PAYLOAD "{\"id\":\"evt_1\",\"object\":\"event\"}"

/*
 * ok
 *		Print one TAP line.
 */
static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	ntests++;
	if (!cond)
		nfailed++;
	printf("%sok %d - ", cond ? "" : "not ", ntests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * sign_ref
 *		Reference signature: hex HMAC-SHA256(secret, tstr "." payload) with
 *		OpenSSL's one-shot HMAC().
 */
static void
sign_ref(const char *secret, const char *tstr, const char *payload, char *hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t		n = strlen(tstr) + 1 + strlen(payload);
	char	   *msg = malloc(n + 1);
	unsigned int i;

	snprintf(msg, n + 1, "%s.%s", tstr, payload);
	HMAC(EVP_sha256(), secret, (int) strlen(secret), (unsigned char *) msg, n, mac, &mac_len);
	for (i = 0; i < mac_len; i++)
		sprintf(hex + 2 * i, "%02x", mac[i]);
	free(msg);
}

/*
 * verify
 *		stripe_sig_verify() on NUL-terminated strings.
 */
static StripeSigStatus
verify(const char *payload, const char *header, const char *secret, int64_t tol, int64_t now)
{
	return stripe_sig_verify(payload, strlen(payload), header, strlen(header),
							 secret, strlen(secret), tol, now);
}

/*
 * parse
 *		stripe_sig_parse_header() on a NUL-terminated string.
 */
static StripeSigStatus
parse(const char *header, StripeSigHeader *hdr)
{
	return stripe_sig_parse_header(header, strlen(header), hdr);
}

/*
 * t_accepts
 *		Check that "t=<value>,v1=x" parses and that t is signed as want.
 */
static void
t_accepts(const char *value, const char *want, const char *what)
{
	char		header[9000];
	char		wantdot[64];
	StripeSigHeader hdr;
	StripeSigStatus st;

	snprintf(header, sizeof(header), "t=%s,v1=x", value);
	snprintf(wantdot, sizeof(wantdot), "%s.", want);
	st = parse(header, &hdr);
	ok(st == STRIPE_SIG_OK && strcmp(hdr.tstr, wantdot) == 0,
	   "t %s is accepted and signed as %s (status %d, got \"%s\")",
	   what, want, st, hdr.tstr);
}

/*
 * t_rejects
 *		Check that "t=<value>,v1=x" is BAD_HEADER with a detail.
 */
static void
t_rejects(const char *value, const char *what)
{
	char		header[9000];
	StripeSigHeader hdr;
	StripeSigStatus st;

	snprintf(header, sizeof(header), "t=%s,v1=x", value);
	st = parse(header, &hdr);
	ok(st == STRIPE_SIG_BAD_HEADER && hdr.detail != NULL,
	   "t %s is rejected (status %d)", what, st);
}

/*
 * test_hmac
 *		Known answers (RFC 4231) through the keyed context, restarts, dup,
 *		and the header format.
 */
static void
test_hmac(void)
{
	char		hex[STRIPE_SIG_HEX_LEN + 1];
	char		hex2[STRIPE_SIG_HEX_LEN + 1];
	char		key1[20];
	char		key6[131];
	char		out[STRIPE_SIG_MAX_FORMATTED];
	StripeSigKey *k;
	StripeSigKey *d;
	int			n;

	memset(key1, 0x0b, sizeof(key1));
	k = stripe_sig_key_new(key1, sizeof(key1));
	ok(k != NULL && stripe_sig_key_sign(k, "Hi ", 3, "There", 5, hex) &&
	   strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0,
	   "RFC 4231 test case 1 (prefix and payload concatenated)");
	stripe_sig_key_free(k);

	k = stripe_sig_key_new("Jefe", 4);
	ok(k != NULL && stripe_sig_key_sign(k, "", 0, "what do ya want for nothing?", 28, hex) &&
	   strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0,
	   "RFC 4231 test case 2");
	ok(stripe_sig_key_sign(k, "x", 1, "", 0, hex2) &&
	   stripe_sig_key_sign(k, "what do ya want ", 16, "for nothing?", 12, hex) &&
	   strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0,
	   "a keyed context restarts cleanly after another message");
	d = stripe_sig_key_dup(k);
	ok(d != NULL && stripe_sig_key_sign(d, "", 0, "what do ya want for nothing?", 28, hex2) &&
	   strcmp(hex, hex2) == 0, "stripe_sig_key_dup gives the same MAC");
	stripe_sig_key_free(d);
	stripe_sig_key_free(k);

	memset(key6, 0xaa, sizeof(key6));
	k = stripe_sig_key_new(key6, sizeof(key6));
	ok(k != NULL &&
	   stripe_sig_key_sign(k, "Test Using Larger Than Block-Size Key - ", 40,
						   "Hash Key First", 14, hex) &&
	   strcmp(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54") == 0,
	   "RFC 4231 test case 6 (key longer than the block size)");
	stripe_sig_key_free(k);

	ok(stripe_sig_key_new("", 0) == NULL, "an empty key is refused");

	k = stripe_sig_key_new("whsec_test", 10);
	n = stripe_sig_format_header(k, 123, "x", 1, out, sizeof(out));
	ok(n > 0 && strcmp(out, "t=123,v1=90dc99ba58df6bb288ea0e57a0c8dcfbd41f2c192ee7204576a6f585fb90930b") == 0,
	   "header format t=<t>,v1=<hex> (got %s)", out);
	n = stripe_sig_format_header(k, -5, "x", 1, out, sizeof(out));
	ok(n > 0 && strcmp(out, "t=-5,v1=3a9206593b1016e210c7b826ca71c495d86b2614aca093f544ebcada9c4d0349") == 0,
	   "header format with a negative t");
	n = stripe_sig_format_header(k, 0, "x", 1, out, 10);
	ok(n == -1, "header format refuses a short buffer");
	stripe_sig_key_free(k);
}

/*
 * test_messages
 *		Stripe's wording.
 */
static void
test_messages(void)
{
	ok(strcmp(stripe_sig_status_message(STRIPE_SIG_BAD_HEADER),
			  "Unable to extract timestamp and signatures from header") == 0, "message: header");
	ok(strcmp(stripe_sig_status_message(STRIPE_SIG_NO_SCHEME),
			  "No signatures found with expected scheme v1") == 0, "message: scheme");
	ok(strcmp(stripe_sig_status_message(STRIPE_SIG_TOLERANCE),
			  "Timestamp outside the tolerance zone") == 0, "message: tolerance");
	ok(strcmp(stripe_sig_status_message(STRIPE_SIG_MISMATCH),
			  "No signatures found matching the expected signature for payload") == 0, "message: mismatch");
	ok(strcmp(stripe_sig_status_message(STRIPE_SIG_NO_PAYLOAD),
			  "No webhook payload was provided") == 0, "message: payload");
}

/*
 * test_secrets
 *		Blank secrets as stripe-node defines them.
 */
static void
test_secrets(void)
{
	char		sig[STRIPE_SIG_HEX_LEN + 1];
	char		header[200];

	ok(stripe_sig_secret_is_blank("", 0), "empty secret is blank");
	ok(stripe_sig_secret_is_blank(" \t\r\n\f\v", 6), "ASCII whitespace secret is blank");
	ok(!stripe_sig_secret_is_blank("\xc2\xa0", 2), "U+00A0 alone is not blank");
	ok(!stripe_sig_secret_is_blank(" a ", 3), "secret with a letter is not blank");
	sign_ref("", "1700000000", PAYLOAD, sig);
	snprintf(header, sizeof(header), "t=1700000000,v1=%s", sig);
	ok(verify(PAYLOAD, header, "", 0, NOW) == STRIPE_SIG_NO_SECRET,
	   "a signature made with the empty key never verifies");
	ok(verify(PAYLOAD, header, "  ", 0, NOW) == STRIPE_SIG_NO_SECRET, "blank secret is refused");
}

/*
 * test_timestamps
 *		t values: what both libraries read the same way.
 */
static void
test_timestamps(void)
{
	char		big[9000];
	StripeSigHeader hdr;

	t_accepts("1700000000", "1700000000", "plain");
	t_accepts("0001700000000", "1700000000", "with leading zeros");
	t_accepts("+1700000000", "1700000000", "with '+'");
	t_accepts("0", "0", "zero");
	t_accepts("-0", "0", "-0");
	t_accepts("-5", "-5", "negative");
	t_accepts(" \t1700000000", "1700000000", "with leading ASCII whitespace");
	t_accepts("1700000000 \r\n", "1700000000", "with trailing ASCII whitespace");
	t_accepts("\xc2\xa0" "1700000000", "1700000000", "with leading U+00A0");
	t_accepts("\xe3\x80\x80" "1700000000\xe2\x80\xa8", "1700000000", "with U+3000 and U+2028");
	t_accepts("\xe1\x9a\x80\xe2\x80\x8a\xe2\x80\xaf\xe2\x81\x9f" "7", "7", "with U+1680 U+200A U+202F U+205F");
	t_accepts("1700000000\xc2\x85", "1700000000", "with trailing U+0085");
	t_rejects("\xc2\x85" "1700000000", "with leading U+0085 (node does not skip it)");
	t_rejects("\xef\xbb\xbf" "1700000000", "with leading U+FEFF (Python does not skip it)");
	t_rejects("1700000000\xef\xbb\xbf", "with trailing U+FEFF");
	t_rejects("1700000000\x1c", "with trailing U+001C");
	t_rejects("\xe2\x80\x8b" "1700000000", "with leading U+200B");
	t_rejects("", "empty");
	t_rejects("   ", "blank");
	t_rejects("1_700_000_000", "with '_' separators");
	t_rejects("0_0", "0_0");
	t_rejects("1700000000abc", "with trailing junk");
	t_rejects("1700000000.5", "with a fraction");
	t_rejects("1.7e9", "with an exponent");
	t_rejects("0x10", "in hex");
	t_rejects("--5", "with two signs");
	t_rejects("+-5", "with +-");
	t_rejects("- 5", "with a space after the sign");
	t_rejects("17 00", "with an inner space");
	t_rejects("\xd9\xa1\xd9\xa2\xd9\xa3", "in Arabic-Indic digits");
	t_rejects("\xef\xbc\x91\xef\xbc\x92", "in full-width digits");
	t_rejects("-1", "-1 (node's missing marker)");
	t_rejects("-01", "-01");

	memset(big, '0', 4290);
	strcpy(big + 4290, "1700000000");
	t_accepts(big, "1700000000", "with 4300 digits");
	memset(big, '0', 4291);
	strcpy(big + 4291, "1700000000");
	t_rejects(big, "with 4301 digits (Python's limit)");

	t_accepts("9007199254740991", "9007199254740991", "2^53-1");
	t_accepts("9007199254740992", "9007199254740992", "2^53");
	t_rejects("9007199254740993", "2^53+1 (JavaScript rounds)");
	t_rejects("1152921504606846976", "2^60 (JavaScript prints ...847000)");
	t_accepts("1152921504606847000", "1152921504606847000", "1152921504606847000 (same in both)");
	t_accepts("-1152921504606847000", "-1152921504606847000", "-1152921504606847000");
	t_accepts("100000000000000000000", "100000000000000000000", "10^20");
	t_rejects("99999999999999999999", "10^20-1 (JavaScript rounds to 10^20)");
	t_rejects("1000000000000000000000", "10^21 (JavaScript prints 1e+21)");
	t_rejects("999999999999999999999", "10^21-1 (JavaScript rounds to 1e+21)");
	t_rejects("12345678901234567890123", "23 digits");

	ok(parse("t=100000000000000000000,v1=x", &hdr) == STRIPE_SIG_OK &&
	   hdr.timestamp == STRIPE_SIG_TS_CLAMP, "huge t is clamped for the age check");
	ok(parse("t=-100000000000000000000,v1=x", &hdr) == STRIPE_SIG_OK &&
	   hdr.timestamp == -STRIPE_SIG_TS_CLAMP, "huge negative t is clamped");
	ok(parse("t=1700000000,v1=x", &hdr) == STRIPE_SIG_OK && hdr.timestamp == NOW,
	   "t value");

	ok(parse("t=1700000000,t=1700000000,v1=x", &hdr) == STRIPE_SIG_OK, "duplicate equal t");
	ok(parse("t=01700000000,t=+1700000000,v1=x", &hdr) == STRIPE_SIG_OK,
	   "duplicate t written differently, same value");
	ok(parse("t=1700000000,t=1700000001,v1=x", &hdr) == STRIPE_SIG_BAD_HEADER,
	   "duplicate t with different values");
	ok(parse("t=1700000000,t=abc,v1=x", &hdr) == STRIPE_SIG_BAD_HEADER,
	   "second t malformed");
	ok(parse("t=1,t=2,t=1,v1=x", &hdr) == STRIPE_SIG_BAD_HEADER,
	   "first and last t equal, middle different");
	ok(parse("t=1700000000,t,v1=x", &hdr) == STRIPE_SIG_BAD_HEADER, "bare t after a good one");
	ok(parse("t=1700000000=99,v1=x", &hdr) == STRIPE_SIG_OK && strcmp(hdr.tstr, "1700000000.") == 0,
	   "t value ends at the second '='");
}

/*
 * test_header_shapes
 *		Element splitting, v1 values, limits.
 */
static void
test_header_shapes(void)
{
	char		buf[STRIPE_SIG_MAX_HEADER + 100];
	StripeSigHeader hdr;
	int			i;
	size_t		n;

	ok(stripe_sig_parse_header("", 0, &hdr) == STRIPE_SIG_BAD_HEADER, "empty header");
	ok(stripe_sig_parse_header(NULL, 0, &hdr) == STRIPE_SIG_BAD_HEADER, "NULL header");
	ok(parse("bad_header", &hdr) == STRIPE_SIG_BAD_HEADER, "bad_header");
	ok(parse("v1=abc", &hdr) == STRIPE_SIG_BAD_HEADER, "no t");
	ok(parse("t,v1=abc", &hdr) == STRIPE_SIG_BAD_HEADER, "bare t");
	ok(parse("t=1700000000", &hdr) == STRIPE_SIG_NO_SCHEME, "no v1");
	ok(parse("t=1700000000,v0=abc", &hdr) == STRIPE_SIG_NO_SCHEME && hdr.detail != NULL,
	   "v0 only");
	ok(parse("t=1700000000, v1=abc", &hdr) == STRIPE_SIG_NO_SCHEME, "' v1' is not v1");
	ok(parse("t=1700000000,V1=abc", &hdr) == STRIPE_SIG_NO_SCHEME, "V1 is not v1");
	ok(parse("t=1700000000,v1", &hdr) == STRIPE_SIG_BAD_HEADER, "bare v1");
	ok(parse("t=1700000000,v1=", &hdr) == STRIPE_SIG_BAD_HEADER, "empty v1");
	ok(parse("t=1700000000,v1=abc,v1=", &hdr) == STRIPE_SIG_BAD_HEADER, "empty v1 after another");
	ok(parse("t=1700000000,v1==abc", &hdr) == STRIPE_SIG_BAD_HEADER, "v1==abc has an empty value");
	ok(parse("t=1700000000,v1=ab\xc3\xa9", &hdr) == STRIPE_SIG_BAD_HEADER, "non-ASCII v1");
	ok(parse("t=1700000000,x=\xc3\xa9,v1=abc", &hdr) == STRIPE_SIG_OK, "non-ASCII in another element");
	ok(parse(",,t=1700000000,,v1=abc,", &hdr) == STRIPE_SIG_OK && hdr.nv1 == 1,
	   "empty elements are ignored");
	ok(parse("t=1700000000,v1=abc=def", &hdr) == STRIPE_SIG_OK && hdr.nv1 == 1 &&
	   hdr.v1_len[0] == 3 && memcmp(hdr.v1[0], "abc", 3) == 0, "v1 value ends at the second '='");
	ok(parse("x,t=1700000000,v1=a,v0=b,v1=c", &hdr) == STRIPE_SIG_OK && hdr.nv1 == 2,
	   "two v1 values kept, v0 and bare x ignored");

	n = (size_t) snprintf(buf, sizeof(buf), "t=1700000000");
	for (i = 0; i < 70; i++)
		n += (size_t) snprintf(buf + n, sizeof(buf) - n, ",v1=%02d", i);
	ok(parse(buf, &hdr) == STRIPE_SIG_OK && hdr.nv1 == STRIPE_SIG_MAX_V1 && hdr.nv1_total == 70 &&
	   memcmp(hdr.v1[63], "63", 2) == 0, "at most 64 v1 values are kept, in order");

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "t=1700000000,v1=abc,x=", 22);
	ok(stripe_sig_parse_header(buf, STRIPE_SIG_MAX_HEADER, &hdr) == STRIPE_SIG_OK,
	   "a header of exactly 8192 bytes is parsed");
	ok(stripe_sig_parse_header(buf, STRIPE_SIG_MAX_HEADER + 1, &hdr) == STRIPE_SIG_BAD_HEADER &&
	   hdr.detail != NULL, "a header of 8193 bytes is rejected");
}

/*
 * test_verify
 *		The whole check, in Stripe's order.
 */
static void
test_verify(void)
{
	char		sig[STRIPE_SIG_HEX_LEN + 1];
	char		other[STRIPE_SIG_HEX_LEN + 1];
	char		header[STRIPE_SIG_MAX_HEADER];
	char		upper[STRIPE_SIG_HEX_LEN + 1];
	StripeSigKey *key;
	StripeSigHeader hdr;
	size_t		n;
	int			i;
	int			allok;

	sign_ref(SECRET, "1700000000", PAYLOAD, sig);
	sign_ref("whsec_other", "1700000000", PAYLOAD, other);
	snprintf(header, sizeof(header), "t=1700000000,v1=%s", sig);

	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_OK, "valid signature");
	ok(verify(PAYLOAD "x", header, SECRET, 300, NOW) == STRIPE_SIG_MISMATCH, "tampered payload");
	ok(verify(PAYLOAD, header, "whsec_other", 300, NOW) == STRIPE_SIG_MISMATCH, "wrong secret");
	ok(verify(PAYLOAD, header, SECRET "\n", 300, NOW) == STRIPE_SIG_MISMATCH,
	   "secret with a trailing newline");
	ok(verify(PAYLOAD, header, SECRET, 300, NOW + 300) == STRIPE_SIG_OK, "age equal to tolerance");
	ok(verify(PAYLOAD, header, SECRET, 300, NOW + 301) == STRIPE_SIG_TOLERANCE, "age over tolerance");
	ok(verify(PAYLOAD, header, SECRET, 0, NOW + 1000000000) == STRIPE_SIG_OK,
	   "tolerance 0 disables the age check");
	ok(verify(PAYLOAD, header, SECRET, -1, NOW - 1000) == STRIPE_SIG_TOLERANCE,
	   "negative tolerance rejects, even a future timestamp");
	ok(verify(PAYLOAD, header, SECRET, 300, NOW - 1000000000) == STRIPE_SIG_OK,
	   "future timestamp accepted");
	ok(verify(PAYLOAD "x", header, SECRET, 300, NOW + 301) == STRIPE_SIG_MISMATCH,
	   "bad signature and expired: the signature is reported first");
	ok(verify("", header, SECRET, 300, NOW) == STRIPE_SIG_NO_PAYLOAD, "empty payload");
	ok(verify("", "garbage", SECRET, 300, NOW) == STRIPE_SIG_NO_PAYLOAD,
	   "empty payload is reported before the header");

	snprintf(header, sizeof(header), "t=1700000000,v1=%s,v1=%s", other, sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_OK, "second of two v1 matches");
	ok(verify(PAYLOAD, header, "whsec_other", 300, NOW) == STRIPE_SIG_OK, "first of two v1 matches");
	snprintf(header, sizeof(header), "t=1700000000,v0=%s", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_NO_SCHEME, "v0 only");
	snprintf(header, sizeof(header), "t=1700000000,v1=%s=junk", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_OK, "v1=<sig>=junk (both libraries accept)");
	snprintf(header, sizeof(header), "t=01700000000,v1=%s", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_OK, "t with leading zeros signed as decimal");
	sign_ref(SECRET, "01700000000", PAYLOAD, other);
	snprintf(header, sizeof(header), "t=01700000000,v1=%s", other);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_MISMATCH,
	   "a signature over the raw t text does not match");
	for (i = 0; i < STRIPE_SIG_HEX_LEN; i++)
		upper[i] = (sig[i] >= 'a' && sig[i] <= 'f') ? sig[i] - 32 : sig[i];
	upper[STRIPE_SIG_HEX_LEN] = '\0';
	snprintf(header, sizeof(header), "t=1700000000,v1=%s", upper);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_MISMATCH, "upper-case hex does not match");
	snprintf(header, sizeof(header), "t=1700000000,v1=%.63s", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_MISMATCH, "truncated signature");
	/* one lower-case hex digit changed: all 64 digits are compared */
	for (i = 0; i < 3; i++)
	{
		static const int positions[] = {STRIPE_SIG_HEX_LEN - 1, STRIPE_SIG_HEX_LEN / 2, 0};
		static const char *const names[] = {"last", "middle (33rd)", "first"};
		char		changed[STRIPE_SIG_HEX_LEN + 1];
		int			pos = positions[i];

		memcpy(changed, sig, sizeof(changed));
		changed[pos] = changed[pos] == '0' ? '1' : '0';
		snprintf(header, sizeof(header), "t=1700000000,v1=%s", changed);
		ok(strlen(changed) == STRIPE_SIG_HEX_LEN && strspn(changed, "0123456789abcdef") == STRIPE_SIG_HEX_LEN &&
		   verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_MISMATCH,
		   "signature with its %s hex digit changed (64 lower-case digits) does not match", names[i]);
		snprintf(header, sizeof(header), "t=1700000000,v1=%s,v1=%s", changed, sig);
		ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_OK,
		   "... and the valid signature after it still matches (%s digit)", names[i]);
	}
	snprintf(header, sizeof(header), "t=1700000000,v1=%s,v1=", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_BAD_HEADER,
	   "empty v1 rejects the header even with a valid one");
	snprintf(header, sizeof(header), "t=1700000000,v1=%s,v1=\xc3\xa9", sig);
	ok(verify(PAYLOAD, header, SECRET, 300, NOW) == STRIPE_SIG_BAD_HEADER,
	   "non-ASCII v1 rejects the header even with a valid one");

	/* a payload starting with a byte order mark never matches, even signed */
	{
		static const struct
		{
			const char *payload;
			StripeSigStatus want;
			const char *what;
		}			bom[] = {
			{"\xef\xbb\xbf" PAYLOAD, STRIPE_SIG_MISMATCH, "a payload starting with U+FEFF"},
			{"\xef\xbb\xbf", STRIPE_SIG_MISMATCH, "a payload that is only U+FEFF"},
			{"\xef\xbb\xbf\xef\xbb\xbf" PAYLOAD, STRIPE_SIG_MISMATCH, "a payload starting with two U+FEFF"},
			{PAYLOAD "\xef\xbb\xbf", STRIPE_SIG_OK, "a payload ending with U+FEFF"},
			{" \xef\xbb\xbf" PAYLOAD, STRIPE_SIG_OK, "a payload with U+FEFF after a space"},
			{"\xef\xbb\xbe" PAYLOAD, STRIPE_SIG_OK, "a payload starting with U+FEFE (EF BB BE)"},
		};

		for (i = 0; i < (int) (sizeof(bom) / sizeof(bom[0])); i++)
		{
			sign_ref(SECRET, "1700000000", bom[i].payload, other);
			snprintf(header, sizeof(header), "t=1700000000,v1=%s", other);
			ok(verify(bom[i].payload, header, SECRET, 300, NOW) == bom[i].want,
			   "%s, correctly signed: %s", bom[i].what,
			   bom[i].want == STRIPE_SIG_OK ? "verifies" : "does not match");
		}
		ok(stripe_sig_payload_has_bom("\xef\xbb\xbf", 3) && !stripe_sig_payload_has_bom("\xef\xbb\xbf", 2) &&
		   !stripe_sig_payload_has_bom("x\xef\xbb\xbf", 4),
		   "stripe_sig_payload_has_bom looks at the first three bytes only");
	}

	/* the valid signature as the 64th and as the 65th v1 */
	for (i = 63; i <= 64; i++)
	{
		int			j;

		n = (size_t) snprintf(header, sizeof(header), "t=1700000000");
		for (j = 0; j < i; j++)
			n += (size_t) snprintf(header + n, sizeof(header) - n, ",v1=%064d", j);
		snprintf(header + n, sizeof(header) - n, ",v1=%s", sig);
		ok(verify(PAYLOAD, header, SECRET, 300, NOW) ==
		   (i == 63 ? STRIPE_SIG_OK : STRIPE_SIG_MISMATCH),
		   "valid signature as v1 number %d is %s", i + 1, i == 63 ? "considered" : "not considered");
	}

	/* the keyed context gives the same verdicts over many calls */
	key = stripe_sig_key_new(SECRET, strlen(SECRET));
	snprintf(header, sizeof(header), "t=1700000000,v1=%s", sig);
	allok = 1;
	for (i = 0; i < 1000; i++)
	{
		const char *p = (i % 3 == 0) ? PAYLOAD "!" : PAYLOAD;
		StripeSigStatus want = (i % 3 == 0) ? STRIPE_SIG_MISMATCH : STRIPE_SIG_OK;

		if (stripe_sig_verify_key(key, p, strlen(p), header, strlen(header), 300, NOW, &hdr) != want)
			allok = 0;
	}
	ok(allok, "1000 alternating verifications with one keyed context");
	stripe_sig_key_free(key);
}

/*
 * test_fuzz
 *		Random mutations of a valid header: nothing crashes, every status is
 *		a known one, and a header over 8192 bytes is never accepted.
 */
static void
test_fuzz(void)
{
	static const char alphabet[] = "tv10=,- +_.\xc2\xa0\x85" "9abcdef";
	char		sig[STRIPE_SIG_HEX_LEN + 1];
	char		base[200];
	char		buf[STRIPE_SIG_MAX_HEADER + 2];
	unsigned int seed = 12345;
	StripeSigHeader hdr;
	int			i;
	int			bad = 0;
	StripeSigKey *key = stripe_sig_key_new(SECRET, strlen(SECRET));

	sign_ref(SECRET, "1700000000", PAYLOAD, sig);
	snprintf(base, sizeof(base), "t=1700000000,v1=%s", sig);
	for (i = 0; i < 200000; i++)
	{
		size_t		len = strlen(base);
		int			m;
		StripeSigStatus st;

		memcpy(buf, base, len);
		for (m = 0; m < 1 + i % 4; m++)
		{
			size_t		pos;

			seed = seed * 1103515245u + 12345u;
			pos = (seed >> 8) % (len + 1);
			seed = seed * 1103515245u + 12345u;
			switch ((seed >> 8) % 3)
			{
				case 0:			/* replace */
					if (pos < len)
						buf[pos] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
					break;
				case 1:			/* insert */
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
					len++;
					break;
				default:		/* delete */
					if (pos < len)
					{
						memmove(buf + pos, buf + pos + 1, len - pos - 1);
						len--;
					}
					break;
			}
		}
		st = stripe_sig_verify_key(key, PAYLOAD, strlen(PAYLOAD), buf, len, 300, NOW, &hdr);
		if (st > STRIPE_SIG_INTERNAL || st == STRIPE_SIG_INTERNAL || st == STRIPE_SIG_NO_SECRET)
			bad++;
		if (st == STRIPE_SIG_BAD_HEADER && hdr.detail == NULL)
			bad++;
	}
	ok(bad == 0, "200000 mutated headers: only known statuses, details on bad headers");

	memset(buf, ',', sizeof(buf));
	memcpy(buf, base, strlen(base));
	ok(stripe_sig_verify_key(key, PAYLOAD, strlen(PAYLOAD), buf, STRIPE_SIG_MAX_HEADER + 1,
							 300, NOW, &hdr) == STRIPE_SIG_BAD_HEADER,
	   "a valid header padded beyond 8192 bytes is rejected");
	ok(stripe_sig_verify_key(key, PAYLOAD, strlen(PAYLOAD), buf, STRIPE_SIG_MAX_HEADER,
							 300, NOW, &hdr) == STRIPE_SIG_OK,
	   "the same header padded to exactly 8192 bytes verifies");
	stripe_sig_key_free(key);
}

/*
 * main
 *		Run every group and print the plan last (TAP allows it at the end).
 */
int
main(void)
{
	test_hmac();
	test_messages();
	test_secrets();
	test_timestamps();
	test_header_shapes();
	test_verify();
	test_fuzz();
	printf("1..%d\n", ntests);
	return nfailed == 0 ? 0 : 1;
}
