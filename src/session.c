/*-------------------------------------------------------------------------
 *
 * session.c
 *		Reading and validating a Stripe Checkout Session object (jsonb).
 *
 * The webhook hands over event.data.object exactly as Stripe sent it.  This
 * file copies the fields the fulfilment needs into a CheckoutSession and
 * rejects anything of the wrong JSON type or range with a clear error:
 *
 *	  SW201  not a JSON object, "object" is not "checkout.session", metadata
 *			 is not an object
 *	  SW202  metadata, metadata.user_id or metadata.cart_id is missing
 *	  SW203  metadata.user_id / metadata.cart_id is not a string, empty, too
 *			 long or has control characters (whether it fits the bound key
 *			 column is checked by the fulfilment: fulfil.c)
 *	  SW207  id, amounts, currency, payment status, payment intent, customer
 *			 or shipping fields of the wrong type or range
 *
 * Error details name the session id (once it is known to be well-formed)
 * and show untrusted values only shortened and with control characters
 * replaced, never whole payloads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "errcodes.h"
#include "jsonb_util.h"
#include "session.h"
#include "stripe_webhook.h"

/* how much of an untrusted value an error message shows */
#define DISPLAY_MAX 64

/*
 * SessionDisplayValue
 *		Return a palloc'd copy of value that is safe to put in a message: at
 *		most DISPLAY_MAX bytes (cut at a character boundary, "..." appended)
 *		and with control characters replaced by '?'.
 */
char *
SessionDisplayValue(const char *value)
{
	int			len = strlen(value);
	int			cut = len;
	char	   *out;
	int			i;

	if (len > DISPLAY_MAX)
		cut = pg_mbcliplen(value, len, DISPLAY_MAX);
	out = palloc(cut + 4);
	for (i = 0; i < cut; i++)
	{
		unsigned char c = (unsigned char) value[i];

		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
	}
	if (cut < len)
	{
		memcpy(out + cut, "...", 3);
		cut += 3;
	}
	out[cut] = '\0';
	return out;
}

/*
 * ValidStripeId
 *		True if s looks like a Stripe object id: 1..255 characters out of
 *		[A-Za-z0-9_].
 */
static bool
ValidStripeId(const char *s)
{
	int			len = strlen(s);
	int			i;

	if (len == 0 || len > SESSION_MAX_ID_LEN)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/*
 * SessionError
 *		Raise a SW207 error about one field of a well-identified session.
 */
pg_noreturn static void
SessionError(const CheckoutSession *s, const char *field, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_SESSION_INVALID),
			 errmsg("invalid %s in checkout session", field),
			 errdetail("In checkout session \"%s\" (cart %s, user \"%s\"), %s %s.",
					   s->id, SessionDisplayValue(s->cart_id),
					   SessionDisplayValue(s->user_id), field, problem),
			 errhint("Pass event.data.object of a checkout.session.* event exactly as Stripe sent it.")));
}

/*
 * GetOptionalString
 *		Read an optional string field of obj: absent or null gives NULL, a
 *		string is copied, anything else is a SW207 error naming path.
 */
static char *
GetOptionalString(const CheckoutSession *s, JsonbContainer *obj,
				  const char *key, const char *path)
{
	JsonbValue	v;

	if (obj == NULL || !JsonbGetKey(obj, key, &v) || v.type == jbvNull)
		return NULL;
	if (v.type != jbvString)
		SessionError(s, path, psprintf("must be a string or null, not %s", JsonbTypeName(&v)));
	return JsonbCopyString(&v);
}

/*
 * GetOptionalObject
 *		Read an optional object field: absent or null gives NULL, an object
 *		gives its container, anything else is a SW207 error naming path.
 */
static JsonbContainer *
GetOptionalObject(const CheckoutSession *s, JsonbContainer *obj,
				  const char *key, const char *path)
{
	JsonbValue	v;

	if (obj == NULL || !JsonbGetKey(obj, key, &v) || v.type == jbvNull)
		return NULL;
	if (!JsonbIsObject(&v))
		SessionError(s, path, psprintf("must be an object or null, not %s", JsonbTypeName(&v)));
	return v.val.binary.data;
}

/*
 * GetAmount
 *		Read a required amount in minor units: a JSON integer from 0 to the
 *		largest bigint.  Strings, fractions, negative and overflowing values
 *		are SW207 errors naming path.
 */
static int64
GetAmount(const CheckoutSession *s, JsonbContainer *obj, const char *key,
		  const char *path)
{
	JsonbValue	v;
	char	   *text;
	const char *p;
	int64		result = 0;

	if (!JsonbGetKey(obj, key, &v) || v.type == jbvNull)
		SessionError(s, path, "is missing");
	if (v.type != jbvNumeric)
		SessionError(s, path, psprintf("must be an integer number of minor units, not %s",
									   JsonbTypeName(&v)));
	text = DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(v.val.numeric)));
	p = text;
	if (*p == '-')
		SessionError(s, path, psprintf("must not be negative (got %s)", SessionDisplayValue(text)));
	if (*p == '\0')
		SessionError(s, path, "is empty");
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
			SessionError(s, path, psprintf("must be a whole number of minor units (got %s)",
										   SessionDisplayValue(text)));
		if (pg_mul_s64_overflow(result, 10, &result) ||
			pg_add_s64_overflow(result, *p - '0', &result))
			SessionError(s, path, psprintf("is out of range (got %s)", SessionDisplayValue(text)));
	}
	return result;
}

/*
 * GetCurrency
 *		Read a required three-letter currency code and return it lower-cased.
 */
static char *
GetCurrency(const CheckoutSession *s, JsonbContainer *obj, const char *key,
			const char *path)
{
	char	   *cur = GetOptionalString(s, obj, key, path);
	int			i;

	if (cur == NULL)
		SessionError(s, path, "is missing");
	if (strlen(cur) != 3)
		SessionError(s, path, psprintf("must be a three-letter ISO code (got \"%s\")",
									   SessionDisplayValue(cur)));
	for (i = 0; i < 3; i++)
	{
		if (cur[i] >= 'A' && cur[i] <= 'Z')
			cur[i] = cur[i] - 'A' + 'a';
		else if (cur[i] < 'a' || cur[i] > 'z')
			SessionError(s, path, psprintf("must be a three-letter ISO code (got \"%s\")",
										   SessionDisplayValue(cur)));
	}
	return cur;
}

/*
 * ParseMetadataValue
 *		Read metadata.<key> as a non-empty string: missing is SW202, the wrong
 *		type or a malformed value is SW203.
 */
static char *
ParseMetadataValue(const char *session_id, JsonbContainer *meta, const char *key)
{
	JsonbValue	v;
	char	   *value;
	int			len;
	int			i;

	if (!JsonbGetKey(meta, key, &v) || v.type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_SW_METADATA_MISSING),
				 errmsg("checkout session has no metadata.%s", key),
				 errdetail("Checkout session \"%s\" carries no \"%s\" in its metadata.",
						   session_id, key),
				 errhint("Create Checkout Sessions with metadata {\"user_id\": ..., \"cart_id\": ...}.")));
	if (v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_SW_METADATA_INVALID),
				 errmsg("metadata.%s of checkout session is not a string", key),
				 errdetail("In checkout session \"%s\", metadata.%s is a JSON %s.",
						   session_id, key, JsonbTypeName(&v)),
				 errhint("Stripe metadata values are strings; pass the session exactly as Stripe sent it.")));
	value = JsonbCopyString(&v);
	len = strlen(value);
	if (len == 0 || len > SESSION_MAX_METADATA_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_SW_METADATA_INVALID),
				 errmsg("metadata.%s of checkout session is empty or too long", key),
				 errdetail("In checkout session \"%s\", metadata.%s has %d characters; 1 to %d are accepted.",
						   session_id, key, len, SESSION_MAX_METADATA_LEN),
				 errhint("Check the metadata your application sets when it creates the Checkout Session.")));
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_SW_METADATA_INVALID),
					 errmsg("metadata.%s of checkout session contains control characters", key),
					 errdetail("In checkout session \"%s\", metadata.%s is \"%s\".",
							   session_id, key, SessionDisplayValue(value)),
					 errhint("Check the metadata your application sets when it creates the Checkout Session.")));
	}
	return value;
}

static bool ParseIdentity(Jsonb *session, CheckoutSession *s, bool allow_unnamed);

/*
 * ParseSessionIdentity
 *		Check that session is a Checkout Session object and read its id and
 *		metadata.user_id / metadata.cart_id into s.  All other fields of s are
 *		zeroed.
 */
void
ParseSessionIdentity(Jsonb *session, CheckoutSession *s)
{
	(void) ParseIdentity(session, s, false);
}

/*
 * ParseSessionIdentityIfNamed
 *		See session.h.
 */
bool
ParseSessionIdentityIfNamed(Jsonb *session, CheckoutSession *s)
{
	return ParseIdentity(session, s, true);
}

/*
 * ParseIdentity
 *		The work of ParseSessionIdentity(IfNamed).  With allow_unnamed, a
 *		session whose metadata has neither user_id nor cart_id (or that has
 *		no metadata) returns false; one that has only one of them is still
 *		an error.
 */
static bool
ParseIdentity(Jsonb *session, CheckoutSession *s, bool allow_unnamed)
{
	JsonbContainer *root = &session->root;
	JsonbValue	v;
	char	   *id;
	bool		has_metadata;
	bool		found;

	memset(s, 0, sizeof(*s));

	if (JB_ROOT_IS_SCALAR(session) || !JB_ROOT_IS_OBJECT(session))
		ereport(ERROR,
				(errcode(ERRCODE_SW_NOT_A_SESSION),
				 errmsg("checkout session must be a JSON object"),
				 errdetail("The value passed is a JSON %s.",
						   JB_ROOT_IS_SCALAR(session) ? "scalar" : "array"),
				 errhint("Pass event.data.object of a checkout.session.* event.")));

	found = JsonbGetKey(root, "object", &v);
	if (!found || !JsonbStringEquals(&v, "checkout.session"))
	{
		bool		named = found && v.type == jbvString;

		ereport(ERROR,
				(errcode(ERRCODE_SW_NOT_A_SESSION),
				 errmsg("object is not a checkout session"),
				 named ?
				 errdetail("Its \"object\" field is \"%s\"; \"checkout.session\" is expected.",
						   SessionDisplayValue(JsonbCopyString(&v))) :
				 errdetail("It has no string \"object\" field; \"checkout.session\" is expected."),
				 errhint("Pass event.data.object of a checkout.session.* event, not the event itself.")));
	}

	if (!JsonbGetKey(root, "id", &v) || v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_SW_SESSION_INVALID),
				 errmsg("checkout session has no id"),
				 errdetail("The session's \"id\" field is missing or not a string."),
				 errhint("Pass event.data.object of a checkout.session.* event exactly as Stripe sent it.")));
	id = JsonbCopyString(&v);
	if (!ValidStripeId(id) || strncmp(id, "cs_", 3) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_SESSION_INVALID),
				 errmsg("checkout session id is malformed"),
				 errdetail("The session id \"%s\" is not \"cs_\" followed by up to %d letters, digits or underscores.",
						   SessionDisplayValue(id), SESSION_MAX_ID_LEN - 3),
				 errhint("Pass event.data.object of a checkout.session.* event exactly as Stripe sent it.")));
	s->id = id;

	has_metadata = JsonbGetKey(root, "metadata", &v) && v.type != jbvNull;
	if (allow_unnamed)
	{
		JsonbValue	key;

		if (!has_metadata ||
			(JsonbIsObject(&v) && !JsonbGetKey(v.val.binary.data, "user_id", &key) &&
			 !JsonbGetKey(v.val.binary.data, "cart_id", &key)))
			return false;
	}
	if (!has_metadata)
		ereport(ERROR,
				(errcode(ERRCODE_SW_METADATA_MISSING),
				 errmsg("checkout session has no metadata"),
				 errdetail("Checkout session \"%s\" carries no metadata, so its user and cart are unknown.", id),
				 errhint("Create Checkout Sessions with metadata {\"user_id\": ..., \"cart_id\": ...}.")));
	if (!JsonbIsObject(&v))
		ereport(ERROR,
				(errcode(ERRCODE_SW_NOT_A_SESSION),
				 errmsg("metadata of checkout session is not a JSON object"),
				 errdetail("In checkout session \"%s\", metadata is a JSON %s.", id, JsonbTypeName(&v)),
				 errhint("Pass event.data.object of a checkout.session.* event exactly as Stripe sent it.")));

	s->user_id = ParseMetadataValue(id, v.val.binary.data, "user_id");
	s->cart_id = ParseMetadataValue(id, v.val.binary.data, "cart_id");
	return true;
}

/*
 * ParseAddress
 *		Fill a from a Stripe shipping_details-like object {name, address{...}}
 *		(name_key may be NULL when the object has no name, as for
 *		customer_details.address itself).  Returns false if no address object
 *		is there.
 */
static bool
ParseAddress(const CheckoutSession *s, JsonbContainer *holder, const char *path,
			 const char *address_key, SessionAddress *a)
{
	JsonbContainer *addr;
	char	   *p = psprintf("%s.%s", path, address_key);

	addr = GetOptionalObject(s, holder, address_key, p);
	if (addr == NULL)
		return false;
	a->name = GetOptionalString(s, holder, "name", psprintf("%s.name", path));
	a->line1 = GetOptionalString(s, addr, "line1", psprintf("%s.line1", p));
	a->line2 = GetOptionalString(s, addr, "line2", psprintf("%s.line2", p));
	a->city = GetOptionalString(s, addr, "city", psprintf("%s.city", p));
	a->state = GetOptionalString(s, addr, "state", psprintf("%s.state", p));
	a->postal_code = GetOptionalString(s, addr, "postal_code", psprintf("%s.postal_code", p));
	a->country = GetOptionalString(s, addr, "country", psprintf("%s.country", p));
	return true;
}

/*
 * ParseSessionDetails
 *		Read payment status, amounts, currency, email and shipping address of
 *		a session whose identity ParseSessionIdentity has already read.
 *
 *		With Adaptive Pricing (currency_conversion present) the session's own
 *		amounts are in the customer's currency; the amounts and currency kept
 *		are currency_conversion's, which are in the shop's currency.
 *		Shipping comes from collected_information.shipping_details (API
 *		versions from 2025-02-24), else from the top-level shipping_details
 *		(older versions), else from customer_details.address.
 */
void
ParseSessionDetails(Jsonb *session, CheckoutSession *s)
{
	JsonbContainer *root = &session->root;
	JsonbContainer *conv;
	JsonbContainer *customer;
	JsonbContainer *collected;
	JsonbContainer *ship;
	char	   *status;
	char	   *top_email;

	status = GetOptionalString(s, root, "payment_status", "payment_status");
	if (status == NULL)
		SessionError(s, "payment_status", "is missing");
	if (strcmp(status, "paid") == 0 || strcmp(status, "no_payment_required") == 0)
		s->paid = true;
	else if (strcmp(status, "unpaid") == 0)
		s->paid = false;
	else
		SessionError(s, "payment_status",
					 psprintf("is \"%s\", not one of paid, unpaid, no_payment_required",
							  SessionDisplayValue(status)));
	s->payment_status = status;

	s->payment_intent = GetOptionalString(s, root, "payment_intent", "payment_intent");
	if (s->payment_intent != NULL && !ValidStripeId(s->payment_intent))
		SessionError(s, "payment_intent",
					 psprintf("is not a Stripe id (got \"%s\")",
							  SessionDisplayValue(s->payment_intent)));

	/* validate the session's own amounts even when converted ones are used */
	s->currency = GetCurrency(s, root, "currency", "currency");
	s->amount_subtotal = GetAmount(s, root, "amount_subtotal", "amount_subtotal");
	s->amount_total = GetAmount(s, root, "amount_total", "amount_total");
	s->amount_charged = s->amount_total;
	conv = GetOptionalObject(s, root, "currency_conversion", "currency_conversion");
	if (conv != NULL)
	{
		s->converted = true;
		s->currency = GetCurrency(s, conv, "source_currency",
								  "currency_conversion.source_currency");
		s->amount_subtotal = GetAmount(s, conv, "amount_subtotal",
									   "currency_conversion.amount_subtotal");
		s->amount_total = GetAmount(s, conv, "amount_total",
									"currency_conversion.amount_total");
	}

	customer = GetOptionalObject(s, root, "customer_details", "customer_details");
	s->email = GetOptionalString(s, customer, "email", "customer_details.email");
	top_email = GetOptionalString(s, root, "customer_email", "customer_email");
	if (s->email == NULL)
		s->email = top_email;

	collected = GetOptionalObject(s, root, "collected_information", "collected_information");
	ship = GetOptionalObject(s, collected, "shipping_details",
							 "collected_information.shipping_details");
	if (ship != NULL &&
		ParseAddress(s, ship, "collected_information.shipping_details", "address", &s->ship))
		s->ship_source = "collected_information.shipping_details";
	else
	{
		memset(&s->ship, 0, sizeof(s->ship));
		ship = GetOptionalObject(s, root, "shipping_details", "shipping_details");
		if (ship != NULL && ParseAddress(s, ship, "shipping_details", "address", &s->ship))
			s->ship_source = "shipping_details";
		else if (customer != NULL &&
				 ParseAddress(s, customer, "customer_details", "address", &s->ship))
			s->ship_source = "customer_details.address";
		else
			memset(&s->ship, 0, sizeof(s->ship));
	}
}
