/*-------------------------------------------------------------------------
 *
 * binding.c
 *		The shop binding (stripe_webhook.binding): the trigger that tells
 *		every backend the binding changed.
 *
 * bind_shop() and unbind_shop() (SQL) write the one row of
 * stripe_webhook.binding.  Any change to the table fires a statement-level
 * trigger (ENABLE ALWAYS, so logical replication's apply fires it too) that
 * queues a relcache invalidation of the table: at commit every backend that
 * listens for it (a relcache callback registered by the code that caches
 * the binding) drops what it derived from the old binding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(stripe_webhook_binding_changed);

/*
 * SQL function: stripe_webhook_binding_changed() RETURNS trigger
 *		Statement-level trigger on stripe_webhook.binding: queue a relcache
 *		invalidation of the table, which every backend's binding cache
 *		listens to.
 */
Datum
stripe_webhook_binding_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stripe_webhook_binding_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
