/*-------------------------------------------------------------------------
 *
 * stripe_webhook.h
 *		Module-wide declarations: settings (GUCs) and the step logger.
 *
 * Every part of the extension reads its settings through the variables
 * declared here; they are registered once, in _PG_init().
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_H
#define STRIPE_WEBHOOK_H

#include "fmgr.h"

/* PostgreSQL 18 replaced pg_attribute_noreturn() with pg_noreturn */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* stripe_webhook.log_level: elevel used for the per-step fulfilment log */
extern int	stripe_webhook_log_level;

/* stripe_webhook.tolerance: signature age accepted by the webhook handler */
extern int	stripe_webhook_tolerance;

/* stripe_webhook.keep_payloads: which events keep their payload */
typedef enum KeepPayloads
{
	KEEP_PAYLOADS_ALL,			/* every recorded event */
	KEEP_PAYLOADS_UNPROCESSED	/* only events not processed (yet) */
} KeepPayloads;
extern int	stripe_webhook_keep_payloads;

/*
 * stripe_webhook.payload_retention: seconds a processed or ignored event
 * keeps its payload once stripe_webhook.prune_events() runs; -1 for ever
 */
extern int	stripe_webhook_payload_retention;

/*
 * StepLog
 *		Log one fulfilment step at the configured level.  Never pass secrets,
 *		signatures or whole payloads.  The statement is hidden: at level LOG
 *		the server would otherwise add a STATEMENT line (log_min_error_statement
 *		treats LOG as more severe than ERROR), and a caller's statement may
 *		carry the whole payload as a literal.
 */
#define StepLog(...) \
	ereport(stripe_webhook_log_level, \
			(errmsg_internal(__VA_ARGS__), errhidestmt(true)))

/*
 * LockTextKey / TryLockTextKey
 *		The transaction-level advisory lock (lock_class, hash of key): how
 *		events of one user, one payment intent or one Stripe event id are
 *		serialised.  TryLockTextKey does not wait: false when another
 *		transaction holds it.
 */
extern void LockTextKey(int32 lock_class, const char *key);
extern bool TryLockTextKey(int32 lock_class, const char *key);

/*
 * InvalidateOnChange
 *		The body of the statement-level triggers on the tables a backend
 *		caches (signing_secrets, binding): queue a relcache invalidation of
 *		the trigger's table, which every backend's cache listens to.  name
 *		is the SQL function's, for the error when it is called otherwise.
 */
extern Datum InvalidateOnChange(FunctionCallInfo fcinfo, const char *name);

#endif							/* STRIPE_WEBHOOK_H */
