/*-------------------------------------------------------------------------
 *
 * stripe_sig.h
 *		Stripe-Signature header parsing and HMAC-SHA256 verification in plain
 *		C (OpenSSL only, no PostgreSQL headers), so that it can be unit-tested
 *		and fuzzed outside the server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_SIG_H
#define STRIPE_SIG_H

#include <stddef.h>
#include <stdint.h>

#define STRIPE_SIG_MAX_HEADER	8192	/* longer headers are rejected */
#define STRIPE_SIG_MAX_V1		64		/* at most this many v1 values considered */

typedef enum StripeSigStatus
{
	STRIPE_SIG_OK = 0,
	STRIPE_SIG_BAD_HEADER,		/* unable to extract timestamp and signatures */
	STRIPE_SIG_NO_SCHEME,		/* no signatures found with expected scheme v1 */
	STRIPE_SIG_TOLERANCE,		/* timestamp outside the tolerance zone */
	STRIPE_SIG_MISMATCH			/* no signatures matching the expected signature */
} StripeSigStatus;

/* Message for a status, worded as Stripe's libraries word it */
extern const char *stripe_sig_status_message(StripeSigStatus status);

#endif							/* STRIPE_SIG_H */
