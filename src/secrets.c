/*-------------------------------------------------------------------------
 *
 * secrets.c
 *		Per-backend cache of stripe_webhook.signing_secrets, and the trigger
 *		that keeps every backend's cache in step with the table.
 *
 * Reading the table costs a query on every delivery; the secrets change a
 * few times a year.  So each backend keeps the rows (secret, expires_at) in
 * its memory and filters them by time on every call; expiry needs no
 * invalidation.  Any change to the table fires a statement-level trigger
 * (ENABLE ALWAYS, so logical replication's apply fires it too) that queues
 * a relcache invalidation of the table: at commit every backend's callback
 * marks its cache stale (locally, the same happens at the next command, and
 * again if the change is rolled back).  As a safety net against changes that
 * bypass the trigger (it disabled, a data-only restore with triggers off),
 * a cache older than five minutes is read again anyway.
 *
 * The callback only marks the cache stale: the secrets handed out by the
 * last GetActiveSecrets() call stay in place until the next call wipes and
 * frees them, so an invalidation arriving in the middle of a verification
 * cannot pull them away.  Secrets are zeroed before their memory is freed;
 * they are never logged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "secrets.h"
#include "spi_util.h"
#include "stripe_webhook.h"

PG_FUNCTION_INFO_V1(stripe_webhook_secrets_changed);

/* A cache older than this is read again even without an invalidation */
#define SECRET_CACHE_MAX_AGE	(300 * USECS_PER_SEC)

/* One row of signing_secrets */
typedef struct SecretEntry
{
	char	   *bytes;
	size_t		len;
	bool		expires;		/* expires_at is not NULL */
	TimestampTz expires_at;
} SecretEntry;

static MemoryContext secret_cxt = NULL;
static SecretEntry *secret_entries = NULL;
static int	secret_count = 0;
static bool secret_cache_valid = false;
static TimestampTz secret_cache_loaded_at = 0;
static Oid	secrets_relid = InvalidOid;
static bool secret_callback_registered = false;
static SPIPlanPtr secrets_plan = NULL;

/*
 * SecretCacheCallback
 *		Relcache invalidation of signing_secrets (or of everything): the
 *		cache is stale.  Nothing is freed here (see the file comment).
 */
static void
SecretCacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == secrets_relid)
		secret_cache_valid = false;
}

/*
 * SecretCacheClear
 *		Zero and free the cached secrets.
 */
static void
SecretCacheClear(void)
{
	for (int i = 0; i < secret_count; i++)
		explicit_bzero(secret_entries[i].bytes, secret_entries[i].len);
	if (secret_cxt != NULL)
		MemoryContextReset(secret_cxt);
	secret_entries = NULL;
	secret_count = 0;
	secret_cache_valid = false;
}

/*
 * SecretCacheLoad
 *		Read every row of signing_secrets into the cache.  The tuples SPI
 *		returned are zeroed before they are freed.
 */
static void
SecretCacheLoad(void)
{
	SPITupleTable *tuptable;
	int			n;

	SecretCacheClear();

	if (secret_cxt == NULL)
		secret_cxt = AllocSetContextCreate(TopMemoryContext, "stripe_webhook signing secrets",
										   ALLOCSET_SMALL_SIZES);
	if (!secret_callback_registered)
	{
		CacheRegisterRelcacheCallback(SecretCacheCallback, (Datum) 0);
		secret_callback_registered = true;
	}
	/* looked up on every load: the extension may have been re-created */
	secrets_relid = get_relname_relid("signing_secrets",
									  get_namespace_oid("stripe_webhook", false));

	RunPlan(KeepPlan(&secrets_plan,
					 "SELECT s.secret, s.expires_at FROM stripe_webhook.signing_secrets s",
					 0, NULL),
			NULL, NULL, SPI_OK_SELECT, "reading the signing secrets");
	tuptable = SPI_tuptable;
	n = (int) SPI_processed;

	PG_TRY();
	{
		secret_entries = MemoryContextAllocZero(secret_cxt, Max(n, 1) * sizeof(SecretEntry));
		for (int i = 0; i < n; i++)
		{
			HeapTuple	tuple = tuptable->vals[i];
			bool		isnull;
			Datum		datum = SPI_getbinval(tuple, tuptable->tupdesc, 1, &isnull);
			text	   *t = DatumGetTextPP(datum);
			SecretEntry *e = &secret_entries[i];

			const char *bytes = VARDATA_ANY(t);
			int			enc = GetDatabaseEncoding();

			e->len = VARSIZE_ANY_EXHDR(t);
			if (enc != PG_UTF8 && enc != PG_SQL_ASCII && e->len > 0)
			{
				/* the key is the secret's UTF-8 bytes, as Stripe uses it */
				char	   *conv = pg_server_to_any(bytes, (int) e->len, PG_UTF8);

				if (conv != bytes)
					e->len = strlen(conv);
				bytes = conv;
			}
			e->bytes = MemoryContextAlloc(secret_cxt, Max(e->len, 1));
			memcpy(e->bytes, bytes, e->len);
			if (bytes != VARDATA_ANY(t))
				explicit_bzero((char *) bytes, e->len);
			secret_count = i + 1;
			if ((Pointer) t != DatumGetPointer(datum))
			{
				/* a detoasted copy: zero it too */
				explicit_bzero(t, VARSIZE_ANY(t));
				pfree(t);
			}
			datum = SPI_getbinval(tuple, tuptable->tupdesc, 2, &isnull);
			e->expires = !isnull;
			if (!isnull)
				e->expires_at = DatumGetTimestampTz(datum);
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
			explicit_bzero(tuptable->vals[i]->t_data, tuptable->vals[i]->t_len);
		SPI_freetuptable(tuptable);
	}
	PG_END_TRY();

	secret_cache_loaded_at = GetCurrentTimestamp();
	secret_cache_valid = true;
}

/*
 * GetActiveSecrets
 *		See secrets.h.
 */
void
GetActiveSecrets(TimestampTz now, ActiveSecrets *out)
{
	if (!secret_cache_valid ||
		GetCurrentTimestamp() - secret_cache_loaded_at > SECRET_CACHE_MAX_AGE)
		SecretCacheLoad();

	out->n = 0;
	out->secrets = palloc(Max(secret_count, 1) * sizeof(char *));
	out->lens = palloc(Max(secret_count, 1) * sizeof(size_t));
	for (int i = 0; i < secret_count; i++)
	{
		SecretEntry *e = &secret_entries[i];

		if (e->expires && e->expires_at <= now)
			continue;			/* expired secrets never verify */
		out->secrets[out->n] = e->bytes;
		out->lens[out->n] = e->len;
		out->n++;
	}
}

/*
 * SQL function: stripe_webhook_secrets_changed() RETURNS trigger
 *		Statement-level trigger on signing_secrets: queue a relcache
 *		invalidation of the table, which every backend's cache listens to.
 */
Datum
stripe_webhook_secrets_changed(PG_FUNCTION_ARGS)
{
	return InvalidateOnChange(fcinfo, "stripe_webhook_secrets_changed()");
}
