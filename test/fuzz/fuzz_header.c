/*-------------------------------------------------------------------------
 *
 * fuzz_header.c
 *		libFuzzer target: stripe_sig_parse_header() on arbitrary bytes.
 *
 * The whole input is the header, copied to a heap buffer of exactly its
 * size (no terminator), so any read past the end is an ASan report.
 * Beyond "no crash, no UB" it checks what the parser promises:
 *
 *	- the status is OK, BAD_HEADER (with a detail) or NO_SCHEME (no v1);
 *	- on OK: tstr is "decimal(t)." and NUL-terminated, every kept v1 value
 *	  lies inside the header, is non-empty ASCII without ',' or '=', and at
 *	  most STRIPE_SIG_MAX_V1 are kept;
 *	- re-serialising the parse ("t=<t>,v1=<v>...") and parsing it again
 *	  gives the same timestamp and v1 values (the parse is a fixed point);
 *	- unknown elements (",v0=...", "x") before or after the header, and a
 *	  repeated identical t, change nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

/* Unknown-key elements that must never change a parse */
static const char *const noise_suffix = ",v0=6ffbb59b2300aabb,scheme=v2,x";
static const char *const noise_prefix = "v0=0123,k=,";

/*
 * CheckParse
 *		Invariants of one parse result over header[0..len).
 */
static void
CheckParse(const char *header, size_t len, StripeSigStatus st, const StripeSigHeader *hdr)
{
	int			i;

	FUZZ_CHECK(st == STRIPE_SIG_OK || st == STRIPE_SIG_BAD_HEADER || st == STRIPE_SIG_NO_SCHEME);
	if (st == STRIPE_SIG_BAD_HEADER)
	{
		FUZZ_CHECK(hdr->detail != NULL && hdr->detail[0] != '\0');
		return;
	}
	if (st == STRIPE_SIG_NO_SCHEME)
	{
		FUZZ_CHECK(hdr->nv1_total == 0 && hdr->nv1 == 0);
		return;
	}

	FUZZ_CHECK(len > 0 && len <= STRIPE_SIG_MAX_HEADER);
	FUZZ_CHECK(hdr->detail == NULL);
	FUZZ_CHECK(hdr->nv1 >= 1 && hdr->nv1 <= STRIPE_SIG_MAX_V1);
	FUZZ_CHECK(hdr->nv1_total >= hdr->nv1);
	FUZZ_CHECK(hdr->nv1 == hdr->nv1_total || hdr->nv1 == STRIPE_SIG_MAX_V1);

	/* tstr: optional '-', digits without a leading zero (except "0"), '.' */
	FUZZ_CHECK(hdr->tstr_len >= 2 && hdr->tstr_len <= STRIPE_SIG_MAX_TSTR);
	FUZZ_CHECK(strlen(hdr->tstr) == hdr->tstr_len);
	FUZZ_CHECK(hdr->tstr[hdr->tstr_len - 1] == '.');
	{
		const char *d = hdr->tstr + (hdr->tstr[0] == '-');
		size_t		nd = hdr->tstr_len - 1 - (hdr->tstr[0] == '-');
		size_t		k;

		FUZZ_CHECK(nd >= 1);
		FUZZ_CHECK(nd == 1 || d[0] != '0');
		FUZZ_CHECK(!(hdr->tstr[0] == '-' && nd == 1 && d[0] == '0'));	/* no "-0" */
		for (k = 0; k < nd; k++)
			FUZZ_CHECK(d[k] >= '0' && d[k] <= '9');
	}
	/* the timestamp agrees with tstr wherever it is not clamped */
	FUZZ_CHECK(hdr->timestamp >= -STRIPE_SIG_TS_CLAMP && hdr->timestamp <= STRIPE_SIG_TS_CLAMP);
	FUZZ_CHECK(hdr->timestamp != -1);
	if (hdr->timestamp > -STRIPE_SIG_TS_CLAMP && hdr->timestamp < STRIPE_SIG_TS_CLAMP)
	{
		char		expect[64];

		snprintf(expect, sizeof(expect), "%lld.", (long long) hdr->timestamp);
		FUZZ_CHECK(strcmp(expect, hdr->tstr) == 0);
	}

	for (i = 0; i < hdr->nv1; i++)
	{
		size_t		k;

		FUZZ_CHECK(hdr->v1[i] >= header && hdr->v1[i] < header + len);
		FUZZ_CHECK(hdr->v1_len[i] >= 1 && hdr->v1_len[i] <= (size_t) (header + len - hdr->v1[i]));
		for (k = 0; k < hdr->v1_len[i]; k++)
		{
			unsigned char c = (unsigned char) hdr->v1[i][k];

			FUZZ_CHECK(c < 0x80 && c != ',' && c != '=');
		}
	}
}

/*
 * SameParse
 *		Do two parse results describe the same header?  (The v1 pointers
 *		differ: compare their contents.)
 */
static int
SameParse(StripeSigStatus sa, const StripeSigHeader *a, StripeSigStatus sb, const StripeSigHeader *b)
{
	int			i;

	if (sa != sb)
		return 0;
	if (sa == STRIPE_SIG_BAD_HEADER)
		return a->detail != NULL && b->detail != NULL && strcmp(a->detail, b->detail) == 0;
	if (sa == STRIPE_SIG_NO_SCHEME)
		return 1;
	if (a->timestamp != b->timestamp || strcmp(a->tstr, b->tstr) != 0 || a->nv1 != b->nv1)
		return 0;
	for (i = 0; i < a->nv1; i++)
		if (a->v1_len[i] != b->v1_len[i] || memcmp(a->v1[i], b->v1[i], a->v1_len[i]) != 0)
			return 0;
	return 1;
}

/*
 * ParseCopy
 *		Parse a[0..alen) || b[0..blen) || c[0..clen) from an exact-size heap
 *		copy; the copy is returned (the parse points into it) for the
 *		caller to free.
 */
static char *
ParseCopy(const char *a, size_t alen, const char *b, size_t blen, const char *c, size_t clen,
		  StripeSigStatus *st, StripeSigHeader *hdr)
{
	size_t		len = alen + blen + clen;
	char	   *buf = malloc(len > 0 ? len : 1);

	FUZZ_CHECK(buf != NULL);
	memcpy(buf, a, alen);
	memcpy(buf + alen, b, blen);
	memcpy(buf + alen + blen, c, clen);
	*st = stripe_sig_parse_header(buf, len, hdr);
	CheckParse(buf, len, *st, hdr);
	return buf;
}

/*
 * LLVMFuzzerTestOneInput
 *		Parse the input as a header and check the invariants above.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size};
	size_t		len;
	char	   *header = FuzzTakeBytes(&in, size, &len);
	StripeSigHeader hdr;
	StripeSigHeader again;
	StripeSigStatus st;
	StripeSigStatus st2;
	char	   *buf;
	size_t		slen = strlen(noise_suffix);
	size_t		plen = strlen(noise_prefix);

	st = stripe_sig_parse_header(header, len, &hdr);
	CheckParse(header, len, st, &hdr);

	/* unknown elements around the header change nothing */
	if (len > 0 && len + slen + plen <= STRIPE_SIG_MAX_HEADER)
	{
		buf = ParseCopy(noise_prefix, plen, header, len, noise_suffix, slen, &st2, &again);
		FUZZ_CHECK(SameParse(st, &hdr, st2, &again));
		free(buf);
	}

	if (st == STRIPE_SIG_OK)
	{
		/* re-serialise: "t=<t>" then ",v1=<value>" for each kept value */
		size_t		cap = 2 + hdr.tstr_len + (size_t) hdr.nv1 * 4 + len;
		char	   *ser = malloc(cap);
		size_t		n = 0;
		int			i;

		FUZZ_CHECK(ser != NULL);
		memcpy(ser, "t=", 2);
		n = 2;
		memcpy(ser + n, hdr.tstr, hdr.tstr_len - 1);
		n += hdr.tstr_len - 1;
		for (i = 0; i < hdr.nv1; i++)
		{
			memcpy(ser + n, ",v1=", 4);
			n += 4;
			memcpy(ser + n, hdr.v1[i], hdr.v1_len[i]);
			n += hdr.v1_len[i];
		}
		FUZZ_CHECK(n <= cap);
		buf = ParseCopy(ser, n, "", 0, "", 0, &st2, &again);
		FUZZ_CHECK(st2 == STRIPE_SIG_OK);
		FUZZ_CHECK(SameParse(st, &hdr, st2, &again));
		FUZZ_CHECK(again.nv1_total == hdr.nv1);
		free(buf);

		/* the canonical t repeated at the end is the same header */
		if (len + n <= STRIPE_SIG_MAX_HEADER)
		{
			char		tdup[STRIPE_SIG_MAX_TSTR + 4];
			size_t		tn;

			tn = (size_t) snprintf(tdup, sizeof(tdup), ",t=%.*s", (int) (hdr.tstr_len - 1), hdr.tstr);
			buf = ParseCopy(header, len, tdup, tn, "", 0, &st2, &again);
			FUZZ_CHECK(SameParse(st, &hdr, st2, &again));
			free(buf);
		}
		free(ser);
	}

	free(header);
	return 0;
}
