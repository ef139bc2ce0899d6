/*-------------------------------------------------------------------------
 *
 * webhook_event.c
 *		The Stripe event envelope: validation of a parsed webhook body, and
 *		the JSON answer of stripe_handle_webhook().
 *
 * A body is a Stripe event when it is a JSON object with "object": "event",
 * an "id" of the form evt_..., a "type" and a "data" object holding an
 * "object" object.  api_version, livemode and created are optional but must
 * have Stripe's types when present, since they go into typed columns of
 * stripe_webhook.events.  Nothing here raises an error for bad input: a
 * body that is not an event is a 400 for the caller, not an exception.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "jsonb_util.h"
#include "webhook.h"

/* Longest id, type or api_version accepted (events.id has the same limit) */
#define EVENT_MAX_TEXT		255

/* Bounds for "created": 1970-01-01 .. 9999-12-31 in Unix seconds */
#define EVENT_MAX_CREATED	INT64CONST(253402300799)

/*
 * CopyEventString
 *		A JSON string as a NUL-terminated palloc'd copy; NULL when it is not
 *		a string, is empty or longer than EVENT_MAX_TEXT, or contains a
 *		character outside allowed (a strspn set) when allowed is given.
 */
static char *
CopyEventString(const JsonbValue *v, const char *allowed)
{
	char	   *s;

	if (v->type != jbvString || v->val.string.len == 0 ||
		v->val.string.len > EVENT_MAX_TEXT)
		return NULL;
	s = pnstrdup(v->val.string.val, v->val.string.len);
	if (allowed != NULL && strspn(s, allowed) != (size_t) v->val.string.len)
	{
		pfree(s);
		return NULL;
	}
	return s;
}

/*
 * NumericToUnixSeconds
 *		An integral JSON number in [0, EVENT_MAX_CREATED]; false otherwise
 *		(fractions, exponents and out-of-range values are not timestamps).
 */
static bool
NumericToUnixSeconds(Numeric num, int64 *out)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	size_t		len = strlen(s);
	int64		value = 0;

	if (len == 0 || len > 12 || strspn(s, "0123456789") != len)
		return false;
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (s[i] - '0');
	if (value > EVENT_MAX_CREATED)
		return false;
	*out = value;
	return true;
}

/*
 * StripeEventFromJsonb
 *		See webhook.h.  The messages name the first field that is wrong and
 *		never quote the body.
 */
const char *
StripeEventFromJsonb(Jsonb *event, StripeEvent *ev)
{
	static const char id_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	static const char type_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	JsonbContainer *root = &event->root;
	JsonbValue	v;
	JsonbValue	data;
	JsonbValue	obj;

	memset(ev, 0, sizeof(*ev));
	ev->event = event;

	if (JB_ROOT_IS_SCALAR(event) || !JB_ROOT_IS_OBJECT(event))
		return "payload is not a JSON object";

	if (!JsonbGetKey(root, "object", &v) || !JsonbStringEquals(&v, "event"))
		return "payload is not a Stripe event: \"object\" is not \"event\"";

	if (!JsonbGetKey(root, "id", &v) || (ev->id = CopyEventString(&v, id_chars)) == NULL ||
		strncmp(ev->id, "evt_", 4) != 0 || ev->id[4] == '\0')
		return "payload is not a Stripe event: \"id\" is not an event id (evt_...)";

	if (!JsonbGetKey(root, "type", &v) || (ev->type = CopyEventString(&v, type_chars)) == NULL)
		return "payload is not a Stripe event: \"type\" is missing or malformed";

	if (!JsonbGetKey(root, "data", &data) || !JsonbIsObject(&data) ||
		!JsonbGetKey(data.val.binary.data, "object", &obj) || !JsonbIsObject(&obj))
		return "payload is not a Stripe event: \"data.object\" is not an object";
	ev->object = JsonbValueToJsonb(&obj);

	if (JsonbGetKey(root, "api_version", &v) && v.type != jbvNull &&
		(ev->api_version = CopyEventString(&v, NULL)) == NULL)
		return "payload is not a Stripe event: \"api_version\" is not a string";

	if (JsonbGetKey(root, "livemode", &v) && v.type != jbvNull)
	{
		if (v.type != jbvBool)
			return "payload is not a Stripe event: \"livemode\" is not a boolean";
		ev->has_livemode = true;
		ev->livemode = v.val.boolean;
	}

	if (JsonbGetKey(root, "created", &v) && v.type != jbvNull)
	{
		int64		secs;

		if (v.type != jbvNumeric || !NumericToUnixSeconds(v.val.numeric, &secs))
			return "payload is not a Stripe event: \"created\" is not a Unix timestamp";
		ev->has_created = true;
		ev->created = time_t_to_timestamptz((pg_time_t) secs);
	}

	/* The Checkout Session id, recorded so that support can find events */
	if (JsonbGetKey(obj.val.binary.data, "object", &v) && JsonbStringEquals(&v, "checkout.session") &&
		JsonbGetKey(obj.val.binary.data, "id", &v))
		ev->session_id = CopyEventString(&v, NULL);

	return NULL;
}

/*
 * WebhookResultToJsonb
 *		See webhook.h.  Built as a JsonbValue, not printed and parsed: this
 *		runs once per delivery.
 */
Jsonb *
WebhookResultToJsonb(const WebhookResult *res)
{
	JsonbParseState *state = NULL;
	JsonbValue *obj;
	JsonbValue	status;

	status.type = jbvNumeric;
	status.val.numeric = int64_to_numeric(res->http_status);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	JsonbPushPair(&state, "status", &status);
	JsonbPushString(&state, "message", res->message ? res->message : "");
	if (res->event_id)
		JsonbPushString(&state, "event_id", res->event_id);
	if (res->event_type)
		JsonbPushString(&state, "event_type", res->event_type);
	if (res->order_id)
		JsonbPushString(&state, "order_id", res->order_id);
	if (res->sqlstate)
		JsonbPushString(&state, "sqlstate", res->sqlstate);
	obj = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	return JsonbValueToJsonb(obj);
}
