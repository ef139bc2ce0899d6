/*-------------------------------------------------------------------------
 *
 * fuzz_common.h
 *		Helpers shared by the libFuzzer targets of src/stripe_sig.c: input
 *		slicing, exact-size heap copies (so AddressSanitizer sees any read
 *		past the end) and an independent HMAC-SHA256 reference.
 *
 * A failed invariant prints what broke and aborts: libFuzzer reports it as
 * a crash and saves the input (see test/fuzz/README in the README part).
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_SIG_FUZZ_COMMON_H
#define STRIPE_SIG_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "stripe_sig.h"

/* Abort (a libFuzzer "crash") when an invariant does not hold */
#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort(); \
		} \
	} while (0)

/* A cursor over the fuzzer's input */
typedef struct FuzzInput
{
	const uint8_t *p;
	size_t		n;
} FuzzInput;

/*
 * FuzzTakeU64
 *		Next 8 bytes as a little-endian integer; missing bytes read as 0.
 */
static inline uint64_t
FuzzTakeU64(FuzzInput *in)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 8; i++)
	{
		if (in->n > 0)
		{
			v |= (uint64_t) in->p[0] << (8 * i);
			in->p++;
			in->n--;
		}
	}
	return v;
}

/*
 * FuzzTakeU8
 *		Next byte, or 0 at the end of the input.
 */
static inline unsigned
FuzzTakeU8(FuzzInput *in)
{
	unsigned	v = 0;

	if (in->n > 0)
	{
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

/*
 * FuzzTakeBytes
 *		The next want bytes (fewer at the end of the input) as an exact-size
 *		heap copy without a terminator; *len receives the length.  The
 *		caller frees it.
 */
static inline char *
FuzzTakeBytes(FuzzInput *in, size_t want, size_t *len)
{
	char	   *copy;

	if (want > in->n)
		want = in->n;
	copy = malloc(want > 0 ? want : 1);
	FUZZ_CHECK(copy != NULL);
	if (want > 0)
		memcpy(copy, in->p, want);
	in->p += want;
	in->n -= want;
	*len = want;
	return copy;
}

/*
 * FuzzRefHex
 *		Reference signature: lower-case hex HMAC-SHA256(key, prefix || payload)
 *		computed with OpenSSL's one-shot HMAC(), independently of the keyed
 *		EVP_MAC contexts under test.  hex has room for 65 bytes.
 */
static inline void
FuzzRefHex(const char *key, size_t key_len, const char *prefix, size_t prefix_len,
		   const char *payload, size_t payload_len, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	unsigned char *msg;
	unsigned int i;

	msg = malloc(prefix_len + payload_len + 1);
	FUZZ_CHECK(msg != NULL);
	memcpy(msg, prefix, prefix_len);
	if (payload_len > 0)
		memcpy(msg + prefix_len, payload, payload_len);
	/* HMAC() wants a non-NULL key even when it is empty */
	FUZZ_CHECK(HMAC(EVP_sha256(), key_len > 0 ? key : "", (int) key_len,
					msg, prefix_len + payload_len, mac, &mac_len) != NULL);
	FUZZ_CHECK(mac_len == STRIPE_SIG_HEX_LEN / 2);
	for (i = 0; i < mac_len; i++)
	{
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 0x0f];
	}
	hex[STRIPE_SIG_HEX_LEN] = '\0';
	free(msg);
}

/*
 * FuzzHeaderHasV1
 *		Does a parsed header carry exactly this hex among its kept v1 values?
 *		(Plain memcmp: the reference for the constant-time comparison.)
 */
static inline int
FuzzHeaderHasV1(const StripeSigHeader *hdr, const char *hex)
{
	int			i;

	for (i = 0; i < hdr->nv1; i++)
		if (hdr->v1_len[i] == STRIPE_SIG_HEX_LEN &&
			memcmp(hdr->v1[i], hex, STRIPE_SIG_HEX_LEN) == 0)
			return 1;
	return 0;
}

/*
 * FuzzStatusValid
 *		Is this one of the statuses stripe_sig.h defines?
 */
static inline int
FuzzStatusValid(StripeSigStatus st)
{
	return st >= STRIPE_SIG_OK && st <= STRIPE_SIG_INTERNAL;
}

#endif							/* STRIPE_SIG_FUZZ_COMMON_H */
