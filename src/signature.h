/*-------------------------------------------------------------------------
 *
 * signature.h
 *		Server-side signature verification used by other modules
 *		(webhook.c); the SQL-callable functions live in signature.c and the
 *		PostgreSQL-free parser/HMAC in stripe_sig.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SIGNATURE_H
#define STRIPE_WEBHOOK_SIGNATURE_H

#include "datatype/timestamp.h"

#include "stripe_sig.h"

/*
 * StripeVerifyWithSecrets
 *		Check a Stripe-Signature header against each of nsecrets secrets
 *		(valid if any matches), with keyed HMAC contexts cached per secret.
 *		tolerance as for stripe_verify_signature(); now_unix is "at" in Unix
 *		seconds.  Returns the most specific failure or STRIPE_SIG_OK.  Raises
 *		an error for an empty secret.
 *
 *		Payload, header and secrets are the bytes Stripe signed (UTF-8); a
 *		payload_len of 0 gives STRIPE_SIG_NO_PAYLOAD.  Use
 *		StripeUnixSeconds(at, true) for now_unix: rounding up makes a
 *		fractional age just over the tolerance fail, as in python3-stripe.
 */
extern StripeSigStatus StripeVerifyWithSecrets(const char *payload, size_t payload_len,
											   const char *header, size_t header_len,
											   const char *const *secrets,
											   const size_t *secret_lens, int nsecrets,
											   int tolerance, int64 now_unix);

/*
 * StripeUnixSeconds
 *		A finite timestamptz as Unix seconds, rounded up (round_up) or down.
 *		Raises an error for -infinity/infinity.
 */
extern int64 StripeUnixSeconds(TimestampTz ts, bool round_up);

/*
 * StripeTextUtf8
 *		The bytes of a text value as Stripe signed them: UTF-8.  In a UTF8 (or
 *		SQL_ASCII) database the text's own bytes, otherwise a palloc'd
 *		conversion.  *len receives the length in bytes.
 */
extern const char *StripeTextUtf8(const text *t, size_t *len);

#endif							/* STRIPE_WEBHOOK_SIGNATURE_H */
