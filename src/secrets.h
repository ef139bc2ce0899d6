/*-------------------------------------------------------------------------
 *
 * secrets.h
 *		The active webhook signing secrets (stripe_webhook.signing_secrets),
 *		cached per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SECRETS_H
#define STRIPE_WEBHOOK_SECRETS_H

#include "datatype/timestamp.h"

/* The secrets that verify at a given time */
typedef struct ActiveSecrets
{
	int			n;
	const char **secrets;		/* not NUL-terminated; lens[i] bytes */
	size_t	   *lens;
} ActiveSecrets;

/*
 * GetActiveSecrets
 *		Fill *out with the secrets whose expires_at is NULL or after now.
 *		Needs an SPI connection (the table is read when the cache is not
 *		valid).  The pointers stay valid until the next call; out's arrays
 *		are palloc'd in the current memory context.
 */
extern void GetActiveSecrets(TimestampTz now, ActiveSecrets *out);

#endif							/* STRIPE_WEBHOOK_SECRETS_H */
