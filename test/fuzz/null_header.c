/*-------------------------------------------------------------------------
 *
 * null_header.c
 *		Regression test for a defect found while writing the fuzz targets:
 *		a NULL header.
 *
 * stripe_sig_parse_header() tests header == NULL, so a NULL header with
 * length 0 is meant to be allowed (an absent header), but it used to
 * compute header + header_len before that test: NULL + 0 is undefined
 * behaviour in C, which UBSan reports as "applying zero offset to null
 * pointer" (fixed on the sig branch, commit 19dbd68).  The fuzz targets
 * cannot reach this (libFuzzer never passes NULL), so this program calls
 * it directly.  Built with -fsanitize=address,undefined and
 * -fno-sanitize-recover, it exits non-zero if the defect comes back;
 * prints TAP.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "stripe_sig.h"

/*
 * main
 *		Parse and verify with a NULL header; both must say BAD_HEADER.
 */
int
main(void)
{
	StripeSigHeader hdr;
	StripeSigKey *key;
	StripeSigStatus st;

	setvbuf(stdout, NULL, _IONBF, 0);	/* keep the TAP lines if UBSan aborts */
	printf("1..2\n");
	st = stripe_sig_parse_header(NULL, 0, &hdr);
	printf("%sok 1 - stripe_sig_parse_header(NULL, 0): BAD_HEADER without undefined behaviour\n",
		   st == STRIPE_SIG_BAD_HEADER ? "" : "not ");
	key = stripe_sig_key_new("whsec_x", 7);
	st = stripe_sig_verify_key(key, "{}", 2, NULL, 0, 300, 0, NULL);
	printf("%sok 2 - stripe_sig_verify_key() with a NULL header: BAD_HEADER\n",
		   st == STRIPE_SIG_BAD_HEADER ? "" : "not ");
	stripe_sig_key_free(key);
	return 0;
}
