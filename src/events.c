/*-------------------------------------------------------------------------
 *
 * events.c
 *		The one table of event types and their handlers, and the SQL
 *		functions that run an object through them directly:
 *		stripe_fulfill_session(), stripe_fulfill_session_text() and
 *		stripe_apply_event() (also known as stripe_apply_session_event()).
 *		The webhook handler (webhook.c) finds its handler here too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "binding.h"
#include "errcodes.h"
#include "events.h"
#include "fulfil.h"
#include "jsonb_util.h"
#include "payments.h"
#include "session.h"
#include "spi_util.h"

/*
 * Every event type handled, and its handler.  The handler takes the
 * event's data.object: a checkout session, a charge, a refund or a dispute.
 */
static const struct
{
	const char *type;
	EventHandler handler;
}			event_handlers[] =
{
	{"checkout.session.completed", CheckoutSessionCompleted},
	{"checkout.session.async_payment_succeeded", CheckoutSessionAsyncSucceeded},
	{"checkout.session.async_payment_failed", CheckoutSessionAsyncFailed},
	{"checkout.session.expired", CheckoutSessionExpired},
	{"charge.refunded", ChargeRefunded},
	{"refund.created", RefundEvent},
	{"refund.updated", RefundEvent},
	{"refund.failed", RefundEvent},
	{"charge.dispute.created", DisputeEvent},
	{"charge.dispute.updated", DisputeEvent},
	{"charge.dispute.closed", DisputeEvent},
};

/*
 * FindEventHandler
 *		See events.h.
 */
EventHandler
FindEventHandler(const char *event_type)
{
	for (int i = 0; i < lengthof(event_handlers); i++)
		if (strcmp(event_type, event_handlers[i].type) == 0)
			return event_handlers[i].handler;
	return NULL;
}

/*
 * FulfilArgument
 *		The session argument of the fulfil functions, fulfilled: the order id
 *		as text.
 */
static char *
FulfilArgument(FunctionCallInfo fcinfo)
{
	SessionOutcome out;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_SW_NOT_A_SESSION),
				 errmsg("checkout session must not be null"),
				 errhint("Pass event.data.object of a checkout.session.completed event.")));
	CheckoutSessionCompleted(PG_GETARG_JSONB_P(0), NULL, &out);
	if (out.order_id == NULL)
		elog(ERROR, "checkout session fulfilment produced no order");
	return out.order_id;
}

/* SQL function: stripe_fulfill_session(session jsonb) RETURNS uuid */
PG_FUNCTION_INFO_V1(stripe_fulfill_session);

Datum
stripe_fulfill_session(PG_FUNCTION_ARGS)
{
	char	   *order_id;
	const ShopBinding *b;

	/* refused before any work: the binding is what the fulfilment uses */
	SpiConnect();
	b = ShopBindingAcquire();
	if (b->field[F_ORDER_ID].tc != TC_UUID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the shop's order ids are not uuids"),
				 errdetail("The bound orders table %s has ids of type %s.",
						   b->table_name[ROLE_ORDERS], b->field[F_ORDER_ID].cast),
				 errhint("Call stripe_webhook.stripe_fulfill_session_text(session), which returns the order id as text.")));
	SpiFinish();
	order_id = FulfilArgument(fcinfo);
	PG_RETURN_DATUM(DirectFunctionCall1(uuid_in, CStringGetDatum(order_id)));
}

/* SQL function: stripe_fulfill_session_text(session jsonb) RETURNS text */
PG_FUNCTION_INFO_V1(stripe_fulfill_session_text);

Datum
stripe_fulfill_session_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(FulfilArgument(fcinfo)));
}

/*
 * SQL function: stripe_apply_event(event_type text, object jsonb)
 * RETURNS jsonb, and stripe_apply_session_event(event_type, session), the
 * same function under its first name
 *
 * Run one event's data.object through its handler, as the webhook handler
 * does after verifying and recording the event.  Returns
 * {"order_id": text or null, "message": text}.
 */
PG_FUNCTION_INFO_V1(stripe_apply_session_event);

Datum
stripe_apply_session_event(PG_FUNCTION_ARGS)
{
	SessionOutcome out;
	EventHandler handler;
	char	   *type;
	JsonbParseState *state = NULL;
	JsonbValue *res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event type and object must not be null")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	handler = FindEventHandler(type);
	if (handler == NULL)
	{
		StringInfoData types;

		initStringInfo(&types);
		for (int i = 0; i < lengthof(event_handlers); i++)
			appendStringInfo(&types, "%s%s", i == 0 ? "" :
							 i == lengthof(event_handlers) - 1 ? " or " : ", ",
							 event_handlers[i].type);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported event type \"%s\"", SessionDisplayValue(type)),
				 errhint("Use %s.", types.data)));
	}
	memset(&out, 0, sizeof(out));
	handler(PG_GETARG_JSONB_P(1), NULL, &out);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	JsonbPushString(&state, "order_id", out.order_id);
	JsonbPushString(&state, "message", out.message);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
