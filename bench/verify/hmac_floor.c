/*-------------------------------------------------------------------------
 *
 * hmac_floor.c
 *		The floor for bench/verify: raw OpenSSL HMAC-SHA256 over the bytes
 *		stripe_verify_signature() signs ("<t>." followed by the payload), in
 *		a C loop, no PostgreSQL involved.
 *
 *	  hmac_floor PAYLOAD_FILE T SECRET ITERATIONS
 *
 * Prints one line "hex=<signature>" (so run.sh can check that the SQL side
 * signs the same bytes), then nanoseconds per call for three ways:
 *	  reinit	key once, EVP_MAC_init(ctx, NULL) per message: what
 *				`openssl speed -hmac sha256` measures, and the floor
 *	  dup		key once, EVP_MAC_CTX_dup() per message
 *	  oneshot	HMAC() per message (key schedule every time)
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * now_ns
 *		CPU time of this process in nanoseconds (not inflated by other load
 *		on the machine; the SQL side measures its backend the same way).
 */
static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * main
 *		Read the payload, build "<t>." || payload, time the three loops.
 */
int
main(int argc, char **argv)
{
	FILE	   *f;
	char	   *msg;
	size_t		cap = 1 << 20;
	size_t		len;
	size_t		n;
	const char *secret;
	long		iters;
	long		i;
	EVP_MAC    *mac;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];
	unsigned char out[EVP_MAX_MD_SIZE];
	size_t		out_len;
	unsigned int hlen;
	double		t0;
	double		reinit;
	double		dup;
	double		oneshot;

	if (argc != 5)
	{
		fprintf(stderr, "usage: %s PAYLOAD_FILE T SECRET ITERATIONS\n", argv[0]);
		return 2;
	}
	secret = argv[3];
	iters = atol(argv[4]);
	msg = malloc(cap);
	len = (size_t) snprintf(msg, cap, "%s.", argv[2]);
	f = fopen(argv[1], "rb");
	if (f == NULL || msg == NULL)
		return 1;
	n = fread(msg + len, 1, cap - len, f);
	fclose(f);
	len += n;
	if (len > 0 && msg[len - 1] == '\n')	/* psql -A adds one */
		len--;

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = EVP_MAC_CTX_new(mac);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, (const unsigned char *) secret, strlen(secret), params))
		return 1;

	/* the signature, for the cross-check */
	EVP_MAC_init(ctx, NULL, 0, NULL);
	EVP_MAC_update(ctx, (unsigned char *) msg, len);
	EVP_MAC_final(ctx, out, &out_len, sizeof(out));
	printf("hex=");
	for (i = 0; i < (long) out_len; i++)
		printf("%02x", out[i]);
	printf("\n");

	t0 = now_ns();
	for (i = 0; i < iters; i++)
	{
		EVP_MAC_init(ctx, NULL, 0, NULL);
		EVP_MAC_update(ctx, (unsigned char *) msg, len);
		EVP_MAC_final(ctx, out, &out_len, sizeof(out));
	}
	reinit = (now_ns() - t0) / iters;

	t0 = now_ns();
	for (i = 0; i < iters; i++)
	{
		EVP_MAC_CTX *c = EVP_MAC_CTX_dup(ctx);

		EVP_MAC_update(c, (unsigned char *) msg, len);
		EVP_MAC_final(c, out, &out_len, sizeof(out));
		EVP_MAC_CTX_free(c);
	}
	dup = (now_ns() - t0) / iters;

	t0 = now_ns();
	for (i = 0; i < iters; i++)
		HMAC(EVP_sha256(), secret, (int) strlen(secret), (unsigned char *) msg, len, out, &hlen);
	oneshot = (now_ns() - t0) / iters;

	printf("bytes=%zu reinit_ns=%.0f dup_ns=%.0f oneshot_ns=%.0f\n", len, reinit, dup, oneshot);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	free(msg);
	return 0;
}
