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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "stripe_webhook.h"

PG_MODULE_MAGIC;

int			stripe_webhook_log_level = LOG;
int			stripe_webhook_tolerance = 300;
int			stripe_webhook_keep_payloads = KEEP_PAYLOADS_ALL;

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

	MarkGUCPrefixReserved("stripe_webhook");
}
