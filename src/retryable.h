/*-------------------------------------------------------------------------
 *
 * retryable.h
 *		The one list of SQLSTATEs worth a retry (HTTP 503: Stripe delivers
 *		again and the retry can succeed), shared by the extension's webhook
 *		handler (src/webhook.c) and the HTTP relay (relay/http.c).
 *
 * Pure C, no PostgreSQL headers: the relay includes it too.  The handler
 * converts its error code with unpack_sql_state() first.
 *
 *	  class 08	connection exception (the relay lost or could not make its
 *				database connection)
 *	  class 40	transaction rollback: serialization failure 40001,
 *				deadlock 40P01, ...
 *	  class 53	insufficient resources: out of memory, disk full, too many
 *				connections
 *	  class 57	operator intervention: query canceled 57014
 *				(statement_timeout, a cancel request), admin or crash
 *				shutdown 57P01/57P02, cannot connect now 57P03
 *	  55P03		lock not available (lock_timeout, NOWAIT)
 *	  SW402		the shop binding no longer matches the database (a bound
 *				table was renamed or altered): the retry succeeds once the
 *				shop rebinds
 *
 * Everything else is permanent: retrying the same delivery gives the same
 * error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_RETRYABLE_H
#define STRIPE_WEBHOOK_RETRYABLE_H

#include <stdbool.h>
#include <string.h>

/*
 * SqlstateIsRetryable
 *		True if the five-character SQLSTATE sqlstate is in the list above.
 *		NULL or a malformed code is not retryable.
 */
static inline bool
SqlstateIsRetryable(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return false;
	return strncmp(sqlstate, "08", 2) == 0 ||
		strncmp(sqlstate, "40", 2) == 0 ||
		strncmp(sqlstate, "53", 2) == 0 ||
		strncmp(sqlstate, "57", 2) == 0 ||
		strcmp(sqlstate, "55P03") == 0 ||
		strcmp(sqlstate, "SW402") == 0;
}

#endif							/* STRIPE_WEBHOOK_RETRYABLE_H */
