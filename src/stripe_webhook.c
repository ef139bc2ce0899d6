/*-------------------------------------------------------------------------
 *
 * stripe_webhook.c
 *		Module entry point: PG_MODULE_MAGIC and the extension's settings.
 *
 * The SQL-callable functions live next to their concern:
 *	  signature.c	stripe_verify_signature() and friends
 *	  fulfil.c		stripe_fulfill_session() and the Checkout state machine
 *	  webhook.c		stripe_handle_webhook(), the event inbox
 *
 * Here too: stripe_webhook.payload_retention(), the setting of the same name
 * as an interval, which prune_events() (extension/stripe_webhook.sql) reads;
 * and InvalidateOnChange(), the body of the triggers on the tables backends
 * cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "datatype/timestamp.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/timestamp.h"

#include "stripe_webhook.h"

PG_MODULE_MAGIC;

int			stripe_webhook_log_level = LOG;
int			stripe_webhook_tolerance = 300;
int			stripe_webhook_keep_payloads = KEEP_PAYLOADS_ALL;
int			stripe_webhook_payload_retention = -1;

/* Levels a shop may choose for the per-step log (same names as log_min_messages) */
static const struct config_enum_entry log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"debug", DEBUG2, true},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"log", LOG, false},
	{NULL, 0, false}
};

/* Which events keep their payload in stripe_webhook.events */
static const struct config_enum_entry keep_payloads_options[] = {
	{"all", KEEP_PAYLOADS_ALL, false},
	{"unprocessed", KEEP_PAYLOADS_UNPROCESSED, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * _PG_init
 *		Register the stripe_webhook.* settings and reserve the prefix so that
 *		a typo such as stripe_webhook.tolerence is rejected.
 */
void
_PG_init(void)
{
	DefineCustomEnumVariable("stripe_webhook.log_level",
							 gettext_noop("Message level of the per-step fulfilment log."),
							 gettext_noop("Steps (payment received, cart locked, order created) are "
										  "logged at this level; warnings about orders that need "
										  "review are always logged as WARNING."),
							 &stripe_webhook_log_level,
							 LOG,
							 log_level_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("stripe_webhook.tolerance",
							gettext_noop("Maximum age in seconds of a Stripe-Signature timestamp "
										 "accepted by stripe_handle_webhook()."),
							gettext_noop("0 disables the age check, as in Stripe's libraries."),
							&stripe_webhook_tolerance,
							300,
							0, 7 * 24 * 3600,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("stripe_webhook.keep_payloads",
							 gettext_noop("Which events keep their payload in stripe_webhook.events."),
							 gettext_noop("all: every recorded event.  unprocessed: only events that "
										  "are not processed yet (received or failed), which a "
										  "redelivery or stripe_replay_event() needs; processed and "
										  "ignored events keep their envelope, not the payload."),
							 &stripe_webhook_keep_payloads,
							 KEEP_PAYLOADS_ALL,
							 keep_payloads_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("stripe_webhook.payload_retention",
							gettext_noop("How long processed and ignored events keep their payload "
										 "after processing, for stripe_webhook.prune_events()."),
							gettext_noop("prune_events() sets the payload of processed and ignored "
										 "events processed longer ago than this to NULL.  -1 (the "
										 "default) keeps payloads until the event itself is pruned; "
										 "0 strips every processed payload at each pruning.  "
										 "Received and failed events always keep theirs."),
							&stripe_webhook_payload_retention,
							-1,
							-1, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("stripe_webhook");
}

/* SQL function: payload_retention() RETURNS interval */
PG_FUNCTION_INFO_V1(stripe_payload_retention);

/*
 * stripe_payload_retention
 *		stripe_webhook.payload_retention as an interval of seconds, NULL when
 *		it is -1 (payloads kept until the event is pruned).  A SQL caller
 *		reads the setting through this function rather than current_setting()
 *		because calling it loads the module: the setting is then registered
 *		and a value given before the load has been checked.
 */
Datum
stripe_payload_retention(PG_FUNCTION_ARGS)
{
	Interval   *result;

	if (stripe_webhook_payload_retention < 0)
		PG_RETURN_NULL();

	result = (Interval *) palloc0(sizeof(Interval));
	result->time = (TimeOffset) stripe_webhook_payload_retention * USECS_PER_SEC;
	PG_RETURN_INTERVAL_P(result);
}

/*
 * InvalidateOnChange
 *		See stripe_webhook.h.
 */
Datum
InvalidateOnChange(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a trigger", name)));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/* the advisory lock key of key: its hash */
static int32
TextLockKey(const char *key)
{
	return (int32) hash_bytes((const unsigned char *) key, (int) strlen(key));
}

/*
 * LockTextKey
 *		See stripe_webhook.h.
 */
void
LockTextKey(int32 lock_class, const char *key)
{
	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(lock_class),
						Int32GetDatum(TextLockKey(key)));
}

/*
 * TryLockTextKey
 *		See stripe_webhook.h.
 */
bool
TryLockTextKey(int32 lock_class, const char *key)
{
	return DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
											Int32GetDatum(lock_class),
											Int32GetDatum(TextLockKey(key))));
}
