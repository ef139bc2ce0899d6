/*-------------------------------------------------------------------------
 *
 * signature.c
 *		SQL-callable Stripe signature functions and StripeVerifyWithSecrets()
 *		for the webhook module, on top of the PostgreSQL-free stripe_sig.c.
 *
 *	  stripe_verify_signature(payload, signature_header, secret | secret[],
 *							  tolerance, at)			  -> boolean
 *	  stripe_verify_signature_strict(...same...)	  -> true, or raises SW10x
 *	  stripe_signature_failure(...same...)			  -> Stripe's reason or NULL
 *	  stripe_signature_header(payload, secret, at)	  -> "t=<unix>,v1=<hex>"
 *
 * Keyed HMAC contexts are cached per backend, keyed by the secret's bytes
 * (KEY_CACHE_SIZE entries, least recently used evicted; evicted secrets are
 * wiped).  A cache hit skips the HMAC key schedule, so the per-call cost is
 * close to hashing the payload.  Secrets, signatures and payloads never
 * appear in messages or logs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "storage/ipc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "errcodes.h"
#include "signature.h"
#include "stripe_sig.h"

/* Keyed contexts kept per backend (a few endpoints, each maybe rolling) */
#define KEY_CACHE_SIZE 8

typedef struct KeyCacheEntry
{
	char	   *secret;			/* malloc'd copy of the secret's bytes */
	size_t		secret_len;
	StripeSigKey *key;			/* HMAC-SHA256 keyed with secret */
} KeyCacheEntry;

/* Entries [0, key_cache_used), most recently used first */
static KeyCacheEntry key_cache[KEY_CACHE_SIZE];
static int	key_cache_used = 0;
static bool key_cache_exit_hook = false;

/* The secrets of one call, as UTF-8 bytes */
typedef struct SecretList
{
	int			n;
	const char **bytes;
	size_t	   *lens;
	bool		any_whitespace; /* some secret contains whitespace */
	const char *one_bytes[1];	/* storage for a single secret (no palloc) */
	size_t		one_len[1];
} SecretList;

/* What a verifying SQL function returns */
typedef enum VerifyMode
{
	VERIFY_BOOLEAN,				/* true/false */
	VERIFY_STRICT,				/* true, or raise with a distinct SQLSTATE */
	VERIFY_FAILURE				/* NULL, or Stripe's message */
} VerifyMode;

/*
 * KeyCacheEvict
 *		Wipe and free one cache entry.
 */
static void
KeyCacheEvict(KeyCacheEntry *entry)
{
	if (entry->secret != NULL)
	{
		OPENSSL_cleanse(entry->secret, entry->secret_len);
		free(entry->secret);
	}
	stripe_sig_key_free(entry->key);
	entry->secret = NULL;
	entry->secret_len = 0;
	entry->key = NULL;
}

/*
 * KeyCacheAtExit
 *		Wipe every cached secret when the backend exits.
 */
static void
KeyCacheAtExit(int code, Datum arg)
{
	while (key_cache_used > 0)
		KeyCacheEvict(&key_cache[--key_cache_used]);
}

/*
 * KeyCacheGet
 *		The keyed HMAC context for a secret, from the cache or newly keyed.
 *		Entries are compared with CRYPTO_memcmp, most recently used first.
 *		The returned key stays valid until the next KeyCacheGet() call.
 */
static StripeSigKey *
KeyCacheGet(const char *secret, size_t secret_len)
{
	KeyCacheEntry entry;
	int			i;

	for (i = 0; i < key_cache_used; i++)
	{
		if (key_cache[i].secret_len == secret_len &&
			CRYPTO_memcmp(key_cache[i].secret, secret, secret_len) == 0)
		{
			if (i > 0)
			{
				entry = key_cache[i];
				memmove(&key_cache[1], &key_cache[0], i * sizeof(KeyCacheEntry));
				key_cache[0] = entry;
			}
			return key_cache[0].key;
		}
	}

	/* miss: key a new context; nothing is changed until both allocations worked */
	entry.key = stripe_sig_key_new(secret, secret_len);
	if (entry.key == NULL)
		elog(ERROR, "could not create an HMAC-SHA256 context");
	entry.secret = malloc(secret_len);
	if (entry.secret == NULL)
	{
		stripe_sig_key_free(entry.key);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	memcpy(entry.secret, secret, secret_len);
	entry.secret_len = secret_len;

	if (!key_cache_exit_hook)
	{
		on_proc_exit(KeyCacheAtExit, (Datum) 0);
		key_cache_exit_hook = true;
	}
	if (key_cache_used == KEY_CACHE_SIZE)
		KeyCacheEvict(&key_cache[--key_cache_used]);
	memmove(&key_cache[1], &key_cache[0], key_cache_used * sizeof(KeyCacheEntry));
	key_cache[0] = entry;
	key_cache_used++;
	return entry.key;
}

/*
 * StripeTextUtf8
 *		A text value as the UTF-8 bytes Stripe signed (see signature.h): in a
 *		UTF8 (or SQL_ASCII) database the text's own bytes; otherwise a
 *		palloc'd conversion.
 */
const char *
StripeTextUtf8(const text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			enc = GetDatabaseEncoding();
	char	   *conv;

	*len = VARSIZE_ANY_EXHDR(t);
	if (enc == PG_UTF8 || enc == PG_SQL_ASCII || *len == 0)
		return s;
	conv = pg_server_to_any(s, (int) *len, PG_UTF8);
	if (conv != s)
		*len = strlen(conv);
	return conv;
}

/*
 * CheckSecret
 *		Reject a blank secret (empty or ASCII whitespace only, as stripe-node
 *		does); note whether it contains whitespace for the mismatch hint.
 */
static void
CheckSecret(const char *secret, size_t len, int element, bool *any_whitespace)
{
	size_t		i;

	if (stripe_sig_secret_is_blank(secret, len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("signing secret must not be empty or blank"),
				 element > 0 ? errdetail("Element %d of the secret array is empty or blank.", element) : 0,
				 errhint("Pass the endpoint's signing secret (whsec_...) from the Stripe Dashboard.")));
	for (i = 0; i < len; i++)
	{
		if (secret[i] == ' ' || (secret[i] >= '\t' && secret[i] <= '\r'))
			*any_whitespace = true;
	}
}

/*
 * GetSecrets
 *		The secret argument (text or text[]) as UTF-8 byte strings, checked:
 *		NULL, empty, blank, an empty array or a NULL element is an error.
 */
static void
GetSecrets(FunctionCallInfo fcinfo, int argno, bool is_array, SecretList *out)
{
	memset(out, 0, sizeof(*out));
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("signing secret must not be null"),
				 errhint("Pass the endpoint's signing secret (whsec_...) from the Stripe Dashboard.")));

	if (!is_array)
	{
		text	   *t = PG_GETARG_TEXT_PP(argno);

		out->n = 1;
		out->bytes = out->one_bytes;
		out->lens = out->one_len;
		out->bytes[0] = StripeTextUtf8(t, &out->lens[0]);
		CheckSecret(out->bytes[0], out->lens[0], 0, &out->any_whitespace);
	}
	else
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(argno);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("signing secret array must not be empty"),
					 errhint("Pass at least one signing secret (whsec_...).")));
		out->n = n;
		out->bytes = palloc(n * sizeof(char *));
		out->lens = palloc(n * sizeof(size_t));
		for (i = 0; i < n; i++)
		{
			text	   *t;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("signing secret must not be null"),
						 errdetail("Element %d of the secret array is null.", i + 1),
						 errhint("Remove null elements from the secret array.")));
			t = (text *) DatumGetPointer(elems[i]);
			out->bytes[i] = StripeTextUtf8(t, &out->lens[i]);
			CheckSecret(out->bytes[i], out->lens[i], i + 1, &out->any_whitespace);
		}
	}
}

/*
 * StripeUnixSeconds
 *		A finite timestamptz as Unix seconds, rounded up or down.  Works in
 *		seconds so that the epoch shift cannot overflow.
 */
int64
StripeUnixSeconds(TimestampTz ts, bool round_up)
{
	int64		secs;
	int64		rem;

	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("at must be a finite timestamp")));
	secs = ts / USECS_PER_SEC;
	rem = ts % USECS_PER_SEC;
	if (round_up && rem > 0)
		secs++;
	else if (!round_up && rem < 0)
		secs--;
	return secs + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/*
 * GetAt
 *		The "at" argument in Unix seconds; NULL is an error.
 */
static int64
GetAt(FunctionCallInfo fcinfo, int argno, bool round_up)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null"),
				 errhint("Omit at to check against now().")));
	return StripeUnixSeconds(PG_GETARG_TIMESTAMPTZ(argno), round_up);
}

/*
 * VerifyCore
 *		Stripe's order of checks over several secrets: payload present,
 *		header, any secret signs the payload as one of the v1 values, age.
 */
static StripeSigStatus
VerifyCore(const char *payload, size_t payload_len, const char *header, size_t header_len,
		   const char *const *secrets, const size_t *secret_lens, int nsecrets,
		   int tolerance, int64 now_unix, StripeSigHeader *hdr)
{
	StripeSigStatus status;
	int			i;

	hdr->detail = NULL;
	hdr->nv1_total = 0;
	if (payload_len == 0)
		return STRIPE_SIG_NO_PAYLOAD;
	status = stripe_sig_parse_header(header, header_len, hdr);
	if (status != STRIPE_SIG_OK)
		return status;
	for (i = 0; i < nsecrets; i++)
	{
		StripeSigKey *key = KeyCacheGet(secrets[i], secret_lens[i]);
		int			match = stripe_sig_key_match(key, hdr, payload, payload_len);

		if (match < 0)
			elog(ERROR, "could not compute HMAC-SHA256");
		if (match > 0)
			return stripe_sig_check_age(hdr, tolerance, now_unix);
	}
	return STRIPE_SIG_MISMATCH;
}

/*
 * StripeVerifyWithSecrets
 *		See signature.h.
 */
StripeSigStatus
StripeVerifyWithSecrets(const char *payload, size_t payload_len,
						const char *header, size_t header_len,
						const char *const *secrets, const size_t *secret_lens, int nsecrets,
						int tolerance, int64 now_unix)
{
	StripeSigHeader hdr;
	bool		any_whitespace = false;
	int			i;

	if (nsecrets <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no signing secret given"),
				 errhint("Pass at least one signing secret (whsec_...).")));
	for (i = 0; i < nsecrets; i++)
		CheckSecret(secrets[i], secret_lens[i], nsecrets > 1 ? i + 1 : 0, &any_whitespace);
	return VerifyCore(payload, payload_len, header, header_len,
					  secrets, secret_lens, nsecrets, tolerance, now_unix, &hdr);
}

/*
 * RaiseSignatureError
 *		The strict variant's error for a failed check: a distinct SQLSTATE
 *		per reason, Stripe's message (lower-case first letter), a detail
 *		that never shows the secret, signature or payload.
 */
static void
RaiseSignatureError(StripeSigStatus status, const StripeSigHeader *hdr, const char *detail,
					const SecretList *secrets, int tolerance, int64 now_unix)
{
	switch (status)
	{
		case STRIPE_SIG_OK:
			break;
		case STRIPE_SIG_BAD_HEADER:
			ereport(ERROR,
					(errcode(ERRCODE_SW_SIGNATURE_HEADER),
					 errmsg("unable to extract timestamp and signatures from header"),
					 errdetail("%s", detail ? detail : hdr->detail),
					 errhint("Pass the Stripe-Signature request header unchanged: t=<unix time>,v1=<signature>.")));
			break;
		case STRIPE_SIG_NO_SCHEME:
			ereport(ERROR,
					(errcode(ERRCODE_SW_SIGNATURE_NO_SCHEME),
					 errmsg("no signatures found with expected scheme v1"),
					 errdetail("%s", hdr->detail),
					 errhint("Only v1 signatures (HMAC-SHA256) are checked.")));
			break;
		case STRIPE_SIG_TOLERANCE:
			if (tolerance < 0)
				ereport(ERROR,
						(errcode(ERRCODE_SW_SIGNATURE_TOLERANCE),
						 errmsg("timestamp outside the tolerance zone"),
						 errdetail("A negative tolerance rejects every signature."),
						 errhint("Pass a tolerance in seconds (300 is Stripe's default), or 0 to disable the age check.")));
			ereport(ERROR,
					(errcode(ERRCODE_SW_SIGNATURE_TOLERANCE),
					 errmsg("timestamp outside the tolerance zone"),
					 errdetail("The signature is %lld seconds old at the time checked (rounded up to whole seconds); the tolerance is %d seconds.",
							   (long long) (now_unix - hdr->timestamp), tolerance),
					 errhint("Check the database server's clock; to verify an old delivery, pass a larger tolerance or at => the time it was received.")));
			break;
		case STRIPE_SIG_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_SW_SIGNATURE_MISMATCH),
					 errmsg("no signatures found matching the expected signature for payload"),
					 errdetail("The header carries %d v1 signature(s); none matches the payload under the %d secret(s) given.",
							   hdr->nv1_total, secrets->n),
					 secrets->any_whitespace ?
					 errhint("The signing secret contains whitespace; this often means an extra newline or space is in the value.") :
					 errhint("Pass the raw request body exactly as received (same bytes, JSON formatting and line endings) and the endpoint's signing secret (whsec_...).")));
			break;
		case STRIPE_SIG_NO_PAYLOAD:
			ereport(ERROR,
					(errcode(ERRCODE_SW_SIGNATURE_NO_PAYLOAD),
					 errmsg("no webhook payload was provided"),
					 errdetail("%s", detail ? detail : "The payload is empty."),
					 errhint("Stripe signs the raw request body; pass it unchanged.")));
			break;
		case STRIPE_SIG_NO_SECRET:
		case STRIPE_SIG_INTERNAL:
			elog(ERROR, "unexpected signature status %d", (int) status);
			break;
	}
}

/*
 * VerifyFromArgs
 *		Shared body of the verifying SQL functions:
 *		(payload text, signature_header text, secret text|text[],
 *		 tolerance integer, at timestamptz).
 *
 * Argument mistakes (secret, tolerance, at) raise errors first, whatever
 * the payload; a NULL payload or header is a failed check.
 */
static Datum
VerifyFromArgs(FunctionCallInfo fcinfo, bool secret_array, VerifyMode mode)
{
	SecretList	secrets;
	StripeSigHeader hdr;
	StripeSigStatus status;
	const char *detail = NULL;
	int			tolerance;
	int64		now_unix;

	GetSecrets(fcinfo, 2, secret_array, &secrets);
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tolerance must not be null"),
				 errhint("Pass the tolerance in seconds, or 0 to disable the age check.")));
	tolerance = PG_GETARG_INT32(3);
	now_unix = GetAt(fcinfo, 4, true);

	hdr.detail = NULL;
	hdr.nv1_total = 0;
	if (PG_ARGISNULL(0))
	{
		status = STRIPE_SIG_NO_PAYLOAD;
		detail = "The payload is NULL.";
	}
	else if (PG_ARGISNULL(1))
	{
		status = STRIPE_SIG_BAD_HEADER;
		detail = "The signature header is NULL.";
	}
	else
	{
		text	   *payload = PG_GETARG_TEXT_PP(0);
		text	   *header = PG_GETARG_TEXT_PP(1);
		size_t		payload_len;
		size_t		header_len;
		const char *payload_bytes = StripeTextUtf8(payload, &payload_len);
		const char *header_bytes = StripeTextUtf8(header, &header_len);

		status = VerifyCore(payload_bytes, payload_len, header_bytes, header_len,
							secrets.bytes, secrets.lens, secrets.n,
							tolerance, now_unix, &hdr);
	}

	switch (mode)
	{
		case VERIFY_BOOLEAN:
			PG_RETURN_BOOL(status == STRIPE_SIG_OK);
		case VERIFY_FAILURE:
			if (status == STRIPE_SIG_OK)
				PG_RETURN_NULL();
			PG_RETURN_TEXT_P(cstring_to_text(stripe_sig_status_message(status)));
		case VERIFY_STRICT:
			RaiseSignatureError(status, &hdr, detail, &secrets, tolerance, now_unix);
			PG_RETURN_BOOL(true);
	}
	PG_RETURN_NULL();			/* keep the compiler quiet */
}

/* SQL function: stripe_verify_signature(text, text, text, integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_verify_signature);

/*
 * stripe_verify_signature
 *		True when the header signs the payload with the secret within the
 *		tolerance; false for any failed check, NULL payload or header.
 */
Datum
stripe_verify_signature(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, false, VERIFY_BOOLEAN);
}

/* SQL function: stripe_verify_signature(text, text, text[], integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_verify_signature_any);

/*
 * stripe_verify_signature_any
 *		As stripe_verify_signature, valid when any of the secrets matches.
 */
Datum
stripe_verify_signature_any(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, true, VERIFY_BOOLEAN);
}

/* SQL function: stripe_verify_signature_strict(text, text, text, integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_verify_signature_strict);

/*
 * stripe_verify_signature_strict
 *		True, or an error whose SQLSTATE names the reason (SW101..SW105).
 */
Datum
stripe_verify_signature_strict(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, false, VERIFY_STRICT);
}

/* SQL function: stripe_verify_signature_strict(text, text, text[], integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_verify_signature_strict_any);

/*
 * stripe_verify_signature_strict_any
 *		The strict variant over several secrets.
 */
Datum
stripe_verify_signature_strict_any(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, true, VERIFY_STRICT);
}

/* SQL function: stripe_signature_failure(text, text, text, integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_signature_failure);

/*
 * stripe_signature_failure
 *		NULL when the signature is valid, else Stripe's reason.
 */
Datum
stripe_signature_failure(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, false, VERIFY_FAILURE);
}

/* SQL function: stripe_signature_failure(text, text, text[], integer, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_signature_failure_any);

/*
 * stripe_signature_failure_any
 *		stripe_signature_failure over several secrets.
 */
Datum
stripe_signature_failure_any(PG_FUNCTION_ARGS)
{
	return VerifyFromArgs(fcinfo, true, VERIFY_FAILURE);
}

/* SQL function: stripe_signature_header(text, text, timestamptz) */
PG_FUNCTION_INFO_V1(stripe_signature_header);

/*
 * stripe_signature_header
 *		"t=<unix>,v1=<hex>" for the payload signed with the secret at the
 *		given time (seconds rounded down), as stripe-node's
 *		webhooks.generateTestHeaderString writes it.  NULL payload -> NULL.
 */
Datum
stripe_signature_header(PG_FUNCTION_ARGS)
{
	SecretList	secrets;
	int64		t;
	text	   *payload;
	size_t		payload_len;
	const char *payload_bytes;
	char		buf[STRIPE_SIG_MAX_FORMATTED];
	int			n;

	GetSecrets(fcinfo, 1, false, &secrets);
	t = GetAt(fcinfo, 2, false);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	payload = PG_GETARG_TEXT_PP(0);
	payload_bytes = StripeTextUtf8(payload, &payload_len);

	n = stripe_sig_format_header(KeyCacheGet(secrets.bytes[0], secrets.lens[0]), t,
								 payload_bytes, payload_len, buf, sizeof(buf));
	if (n < 0)
		elog(ERROR, "could not compute HMAC-SHA256");
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, n));
}
