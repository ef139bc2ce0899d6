/*-------------------------------------------------------------------------
 *
 * webhook.c
 *		stripe_handle_webhook(payload, signature_header) and
 *		stripe_replay_event(event_id): one call per Stripe delivery.
 *
 * A relay hands over the raw body and the Stripe-Signature header and
 * answers Stripe with the "status" of the returned jsonb:
 *
 *	 400  NULL payload; NULL or empty header; empty payload or signature
 *		  rejected (message as Stripe's libraries word it); body not JSON,
 *		  not an object, not a Stripe event.  Nothing is written except, for
 *		  header and signature problems, a counter in
 *		  stripe_webhook.rejected_deliveries.
 *	 500  no active signing secret ("webhook secret not configured"; also
 *		  counted), or an unexpected error while processing (recorded).
 *	 200  event processed, event type ignored, or event already processed.
 *	 422  the event's processing raised a permanent error (bad metadata,
 *		  unknown cart, ...): rolled back, event recorded as 'failed'.
 *	 503  a transient error (serialization failure, deadlock, lock or
 *		  statement timeout, resources): Stripe retries.
 *
 * A delivery runs in up to three internal subtransactions, each set up and
 * torn down exactly as PL/pgSQL does for a block with an EXCEPTION clause:
 *
 *	 accept   verify the signature, parse and check the body, take a
 *			  transaction-level advisory lock on the event id (concurrent
 *			  duplicates wait here until the first one commits or aborts)
 *			  and look the event up; a processed or ignored event ends here
 *	 process  run the event type's handler (events.c) and record the event with
 *			  its outcome (one INSERT, or an UPDATE of an earlier failure);
 *			  with stripe_webhook.keep_payloads = unprocessed, without the
 *			  payload
 *	 failure  only if process failed: record the error, the attempt and the
 *			  status ('failed' for a permanent error) on the event's row
 *
 * So recording and processing commit together, a failure rolls the
 * processing back while the event keeps the error, and no error escapes
 * except unexpected ones while accepting or recording a failure: never
 * SQLSTATE 40001/40P01, which PostgREST before v16 retries without limit.
 * Secrets, signatures and payloads are never logged.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "errcodes.h"
#include "events.h"
#include "fulfil.h"
#include "retryable.h"
#include "secrets.h"
#include "signature.h"
#include "spi_util.h"
#include "stripe_webhook.h"
#include "webhook.h"

PG_FUNCTION_INFO_V1(stripe_handle_webhook);
PG_FUNCTION_INFO_V1(stripe_replay_event);

/* Where a delivery is; decides what an error in guarded code means */
typedef enum DeliveryPhase
{
	PHASE_ACCEPT,				/* verifying, looking the event up */
	PHASE_PARSE					/* parsing the body as jsonb */
} DeliveryPhase;

/* State of one call, passed to the guarded callbacks */
typedef struct Delivery
{
	text	   *payload;		/* NULL for a replay */
	text	   *header;
	const char *replay_id;		/* stripe_replay_event() argument */
	DeliveryPhase phase;
	bool		done;			/* answered while accepting */
	bool		not_found;		/* replay: no such event */
	bool		recorded;		/* the event has a row already ... */
	char	   *status;			/* ... with this status */
	ErrorData  *failure;		/* the processing's error, to record */
	StripeEvent ev;
	WebhookResult *res;
} Delivery;

/*
 * Advisory lock class of the event-id locks (pg_advisory_xact_lock(int4,
 * int4) with this first key and a hash of the event id as the second).
 */
#define EVENT_LOCK_CLASS	0x73776576	/* "swev" */

/* Cached plans (SPI_keepplan), prepared on first use */
static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr replay_plan = NULL;
static SPIPlanPtr insert_done_plan = NULL;
static SPIPlanPtr update_done_plan = NULL;
static SPIPlanPtr failure_plan = NULL;
static SPIPlanPtr reject_plan = NULL;

/* Column types of an event's envelope ($1..$7 of the INSERTs below) */
#define EVENT_NCOLS 7
static Oid	event_coltypes[] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, TEXTOID, JSONBOID};

/*
 * IsTransientError
 *		Errors worth a 503 (Stripe retries and the retry can succeed): the
 *		list shared with the relay, src/retryable.h (class 40, 53, 57,
 *		08, 55P03, and SW402: a shop binding that no longer matches its
 *		tables, which succeeds once the shop rebinds).
 */
static bool
IsTransientError(int sqlerrcode)
{
	return SqlstateIsRetryable(unpack_sql_state(sqlerrcode));
}

/*
 * PermanentStatus
 *		HTTP status for a permanent processing error: 422 when the event's
 *		data is at fault (class SW, 22 data exception, 23 integrity), 500
 *		for anything else (a bug or a broken installation).
 */
static int
PermanentStatus(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	if (category == MAKE_SQLSTATE('S', 'W', '0', '0', '0') ||
		category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		return WEBHOOK_HTTP_UNPROCESSABLE;
	return WEBHOOK_HTTP_SERVER_ERROR;
}

/*
 * RunGuarded
 *		Run fn(arg) in an internal subtransaction, as PL/pgSQL runs a block
 *		with an EXCEPTION clause.  Returns NULL when it succeeded (the
 *		subtransaction is released), or the error, copied into the caller's
 *		memory context, after rolling the subtransaction back.  Memory
 *		context and resource owner are restored either way.
 */
static ErrorData *
RunGuarded(void (*fn) (void *), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	/* run in the caller's memory context, not the subtransaction's */
	MemoryContextSwitchTo(oldcontext);

	PG_TRY();
	{
		fn(arg);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		/* save the error before the subtransaction's memory goes away */
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();

	return edata;
}

/*
 * SetResult
 *		Fill the status and message of a result.
 */
static void
SetResult(WebhookResult *res, int http_status, const char *message)
{
	res->http_status = http_status;
	res->message = message;
}

/*
 * CountRejectionCallback
 *		Bump the counter of one rejection reason (arg: the reason).
 */
static void
CountRejectionCallback(void *arg)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	SPIPlanPtr	plan;

	plan = KeepPlan(&reject_plan,
					   "INSERT INTO stripe_webhook.rejected_deliveries AS r (reason, count) "
					   "VALUES ($1, 1) "
					   "ON CONFLICT (reason) DO UPDATE "
					   "SET count = r.count + 1, last_at = pg_catalog.now()",
					   1, argtypes);
	values[0] = CStringGetTextDatum((const char *) arg);
	RunPlan(plan, values, NULL, SPI_OK_INSERT, "counting a rejected delivery");
}

/*
 * RejectionLogDue
 *		At most one log line per rejection reason per second and session:
 *		a flood of forged deliveries must not flood the server log (each
 *		one is still counted in rejected_deliveries).  True when a line is
 *		due, with *suppressed set to the lines skipped since the last one.
 */
static bool
RejectionLogDue(const char *reason, int *suppressed)
{
	static struct
	{
		const char *reason;		/* a string literal from the callers */
		time_t		second;
		int			suppressed;
	}			last[8];
	time_t		now = time(NULL);
	int			i;

	for (i = 0; i < (int) lengthof(last) - 1; i++)
		if (last[i].reason == NULL || strcmp(last[i].reason, reason) == 0)
			break;
	/* the last entry is shared by any reason beyond the first seven */
	if (last[i].reason != NULL && last[i].second == now)
	{
		last[i].suppressed++;
		return false;
	}
	*suppressed = last[i].suppressed;
	last[i].reason = reason;
	last[i].second = now;
	last[i].suppressed = 0;
	return true;
}

/*
 * Reject
 *		Answer a delivery that was rejected before anything was recorded,
 *		counting it under reason.  The counter is best effort: a transient
 *		error on it (e.g. a lock timeout under a flood of bad requests) is
 *		dropped and the rejection still answered.
 */
static void
Reject(Delivery *d, int http_status, const char *message, const char *reason)
{
	ErrorData  *edata;

	int			suppressed;

	SetResult(d->res, http_status, message);
	if (RejectionLogDue(reason, &suppressed))
	{
		if (suppressed > 0)
			StepLog("stripe webhook delivery rejected: %s (and %d more in this session since the last line)",
					reason, suppressed);
		else
			StepLog("stripe webhook delivery rejected: %s", reason);
	}

	edata = RunGuarded(CountRejectionCallback, (void *) reason);
	if (edata != NULL && !IsTransientError(edata->sqlerrcode))
		ReThrowError(edata);
}

/*
 * VerifySignature
 *		Check the header against every active signing secret (secrets.c).
 *		Returns false after answering the delivery (500 without a secret,
 *		400 with the reason Stripe's libraries give).
 */
static bool
VerifySignature(Delivery *d)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ActiveSecrets active;
	StripeSigStatus status;
	const char *payload;
	const char *header;
	size_t		payload_len;
	size_t		header_len;

	GetActiveSecrets(now, &active);
	if (active.n == 0)
	{
		Reject(d, WEBHOOK_HTTP_SERVER_ERROR, "webhook secret not configured", "no_secret");
		return false;
	}

	payload = StripeTextUtf8(d->payload, &payload_len);
	header = StripeTextUtf8(d->header, &header_len);
	/* the age rounded up, as python3-stripe counts it (signature.h) */
	status = StripeVerifyWithSecrets(payload, payload_len, header, header_len,
									 active.secrets, active.lens, active.n,
									 stripe_webhook_tolerance, StripeUnixSeconds(now, true));
	switch (status)
	{
		case STRIPE_SIG_OK:
			return true;
		case STRIPE_SIG_BAD_HEADER:
			Reject(d, WEBHOOK_HTTP_BAD_REQUEST, stripe_sig_status_message(status), "bad_header");
			break;
		case STRIPE_SIG_NO_SCHEME:
			Reject(d, WEBHOOK_HTTP_BAD_REQUEST, stripe_sig_status_message(status), "no_signature");
			break;
		case STRIPE_SIG_TOLERANCE:
			Reject(d, WEBHOOK_HTTP_BAD_REQUEST, stripe_sig_status_message(status), "too_old");
			break;
		case STRIPE_SIG_MISMATCH:
			Reject(d, WEBHOOK_HTTP_BAD_REQUEST, stripe_sig_status_message(status), "no_match");
			break;
		case STRIPE_SIG_NO_PAYLOAD:
			Reject(d, WEBHOOK_HTTP_BAD_REQUEST, stripe_sig_status_message(status), "no_payload");
			break;
		default:
			/* blank secrets are refused by a CHECK; OpenSSL failures raise */
			elog(ERROR, "unexpected signature verification status %d", (int) status);
	}
	return false;
}

/*
 * EventValues
 *		Fill values/nulls[0..6] with the envelope of d's event, in the order
 *		of event_coltypes.
 */
static void
EventValues(Delivery *d, Datum *values, char *nulls)
{
	StripeEvent *ev = &d->ev;

	values[0] = CStringGetTextDatum(ev->id);
	values[1] = CStringGetTextDatum(ev->type);
	values[2] = SpiParamText(ev->api_version, nulls, 2);
	values[3] = BoolGetDatum(ev->livemode);
	nulls[3] = ev->has_livemode ? ' ' : 'n';
	values[4] = TimestampTzGetDatum(ev->created);
	nulls[4] = ev->has_created ? ' ' : 'n';
	values[5] = SpiParamText(ev->session_id, nulls, 5);
	values[6] = JsonbPGetDatum(ev->event);
}

/*
 * LockEvent
 *		Take the transaction-level advisory lock of an event id.  Deliveries
 *		and replays of one event serialize on it: the second waits until the
 *		first one's transaction ends, then finds its row.
 */
static void
LockEvent(const char *id)
{
	LockTextKey((int32) EVENT_LOCK_CLASS, id);
}

/*
 * AnswerDuplicate
 *		The event was processed (or ignored) before: 200, nothing changes.
 */
static void
AnswerDuplicate(Delivery *d)
{
	SetResult(d->res, WEBHOOK_HTTP_OK, "already processed");
	d->done = true;
	StepLog("stripe event %s (%s): already processed", d->ev.id, d->ev.type);
}

/*
 * LookupEvent
 *		After LockEvent: whether the event has a row, and its status; a
 *		processed or ignored event is answered as a duplicate.
 */
static void
LookupEvent(Delivery *d)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	KeepPlan(&lookup_plan,
				"SELECT e.status, e.order_id FROM stripe_webhook.events e WHERE e.id = $1",
				1, argtypes);
	values[0] = CStringGetTextDatum(d->ev.id);
	RunPlan(lookup_plan, values, NULL, SPI_OK_SELECT, "looking an event up");
	if (SPI_processed == 0)
		return;

	d->recorded = true;
	d->status = SpiText(0, 1);
	d->res->order_id = SpiText(0, 2);
	SPI_freetuptable(SPI_tuptable);

	if (strcmp(d->status, "processed") == 0 || strcmp(d->status, "ignored") == 0)
		AnswerDuplicate(d);
	else
		d->res->order_id = NULL;	/* received or failed: process again */
}

/*
 * AcceptCallback
 *		The first guarded step of stripe_handle_webhook(): signature, body,
 *		event lock and lookup.  Sets d->done when the delivery is answered
 *		(rejected, or a duplicate).
 */
static void
AcceptCallback(void *arg)
{
	Delivery   *d = (Delivery *) arg;
	const char *problem;
	Jsonb	   *event;

	if (!VerifySignature(d))
	{
		d->done = true;
		return;
	}

	d->phase = PHASE_PARSE;
	event = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											   CStringGetDatum(text_to_cstring(d->payload))));
	d->phase = PHASE_ACCEPT;

	problem = StripeEventFromJsonb(event, &d->ev);
	if (problem != NULL)
	{
		SetResult(d->res, WEBHOOK_HTTP_BAD_REQUEST, problem);
		d->done = true;
		StepLog("stripe webhook delivery rejected: body is not a Stripe event");
		return;
	}
	d->res->event_id = d->ev.id;
	d->res->event_type = d->ev.type;

	LockEvent(d->ev.id);
	LookupEvent(d);
}

/*
 * ReplayAcceptCallback
 *		The first guarded step of stripe_replay_event(): event lock, the
 *		stored event, its envelope.
 */
static void
ReplayAcceptCallback(void *arg)
{
	Delivery   *d = (Delivery *) arg;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	const char *problem;
	Datum		raw;
	Jsonb	   *payload;

	LockEvent(d->replay_id);
	KeepPlan(&replay_plan,
				"SELECT e.status, e.payload, e.type FROM stripe_webhook.events e WHERE e.id = $1",
				1, argtypes);
	values[0] = CStringGetTextDatum(d->replay_id);
	RunPlan(replay_plan, values, NULL, SPI_OK_SELECT, "reading an event");
	if (SPI_processed == 0)
	{
		d->not_found = d->done = true;
		return;
	}
	d->recorded = true;
	d->status = SpiText(0, 1);
	raw = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
	{
		/*
		 * Only a processed or ignored event may lack its payload (a CHECK
		 * on stripe_webhook.events): keep_payloads = unprocessed, or
		 * prune_events() stripped it.  Nothing is left to replay.
		 */
		d->ev.id = pstrdup(d->replay_id);
		d->ev.type = SpiText(0, 3);
		d->res->event_id = d->ev.id;
		d->res->event_type = d->ev.type;
		AnswerDuplicate(d);
		return;
	}
	payload = DatumGetJsonbPCopy(raw);
	SPI_freetuptable(SPI_tuptable);

	problem = StripeEventFromJsonb(payload, &d->ev);
	if (problem != NULL)
	{
		SetResult(d->res, WEBHOOK_HTTP_UNPROCESSABLE, psprintf("stored %s", problem));
		d->done = true;
		return;
	}
	d->res->event_id = d->ev.id;
	d->res->event_type = d->ev.type;

	if (strcmp(d->status, "processed") == 0 || strcmp(d->status, "ignored") == 0)
		AnswerDuplicate(d);
}

/*
 * ProcessCallback
 *		The second guarded step: run the handler for the event's type (other
 *		types are "ignored") and record the event with its outcome.
 */
static void
ProcessCallback(void *arg)
{
	Delivery   *d = (Delivery *) arg;
	WebhookResult *res = d->res;
	const char *status = "ignored";
	EventHandler handler;
	Datum		values[EVENT_NCOLS + 2];
	char		nulls[EVENT_NCOLS + 2];

	SetResult(res, WEBHOOK_HTTP_OK, "event type ignored");
	handler = FindEventHandler(d->ev.type);
	if (handler != NULL)
	{
		SessionOutcome out;

		memset(&out, 0, sizeof(out));
		handler(d->ev.object, d->ev.id, &out);
		SetResult(res, WEBHOOK_HTTP_OK, pstrdup(out.message ? out.message : "processed"));
		res->order_id = out.order_id;
		status = out.ignored ? "ignored" : "processed";
	}

	memset(nulls, ' ', sizeof(nulls));
	if (!d->recorded)
	{
		Oid			argtypes[EVENT_NCOLS + 2];

		memcpy(argtypes, event_coltypes, sizeof(event_coltypes));
		argtypes[EVENT_NCOLS] = TEXTOID;
		argtypes[EVENT_NCOLS + 1] = TEXTOID;
		KeepPlan(&insert_done_plan,
					"INSERT INTO stripe_webhook.events "
					"    (id, type, api_version, livemode, created, session_id, payload, "
					"     status, attempts, processed_at, last_attempt_at, order_id) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, pg_catalog.now(), pg_catalog.now(), $9)",
					EVENT_NCOLS + 2, argtypes);
		EventValues(d, values, nulls);
		if (stripe_webhook_keep_payloads == KEEP_PAYLOADS_UNPROCESSED)
			nulls[6] = 'n';
		values[EVENT_NCOLS] = CStringGetTextDatum(status);
		values[EVENT_NCOLS + 1] = SpiParamText(res->order_id, nulls, EVENT_NCOLS + 1);
		RunPlan(insert_done_plan, values, nulls, SPI_OK_INSERT, "recording a processed event");
	}
	else
	{
		Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, BOOLOID};

		KeepPlan(&update_done_plan,
					"UPDATE stripe_webhook.events "
					"SET status = $2, processed_at = pg_catalog.now(), attempts = attempts + 1, "
					"    last_attempt_at = pg_catalog.now(), order_id = $3, "
					"    payload = CASE WHEN $4 THEN payload END "
					"WHERE id = $1",
					4, argtypes);
		values[0] = CStringGetTextDatum(d->ev.id);
		values[1] = CStringGetTextDatum(status);
		values[2] = SpiParamText(res->order_id, nulls, 2);
		values[3] = BoolGetDatum(stripe_webhook_keep_payloads == KEEP_PAYLOADS_ALL);
		RunPlan(update_done_plan, values, nulls, SPI_OK_UPDATE, "recording a processed event");
	}
	StepLog("stripe event %s (%s): %s", d->ev.id, d->ev.type, res->message);
}

/*
 * RecordFailureCallback
 *		The third guarded step, after the processing failed: record the
 *		event with the error and one more attempt.  A permanent error makes
 *		it 'failed'; a transient one leaves its status as it was ('received'
 *		for a new event).  An event processed meanwhile (by a concurrent
 *		delivery that got in after our processing was rolled back) is left
 *		alone.
 */
static void
RecordFailureCallback(void *arg)
{
	Delivery   *d = (Delivery *) arg;
	ErrorData  *edata = d->failure;
	bool		transient = IsTransientError(edata->sqlerrcode);
	Oid			argtypes[EVENT_NCOLS + 3];
	Datum		values[EVENT_NCOLS + 3];
	char		nulls[EVENT_NCOLS + 3];

	memcpy(argtypes, event_coltypes, sizeof(event_coltypes));
	argtypes[EVENT_NCOLS] = TEXTOID;
	argtypes[EVENT_NCOLS + 1] = TEXTOID;
	argtypes[EVENT_NCOLS + 2] = TEXTOID;
	KeepPlan(&failure_plan,
				"INSERT INTO stripe_webhook.events AS e "
				"    (id, type, api_version, livemode, created, session_id, payload, "
				"     status, attempts, last_attempt_at, last_error, last_sqlstate) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, pg_catalog.now(), $9, $10) "
				"ON CONFLICT (id) DO UPDATE "
				"SET status = CASE WHEN excluded.status = 'failed' THEN 'failed' ELSE e.status END, "
				"    attempts = e.attempts + 1, last_attempt_at = excluded.last_attempt_at, "
				"    last_error = excluded.last_error, last_sqlstate = excluded.last_sqlstate "
				"WHERE e.status IN ('received', 'failed')",
				EVENT_NCOLS + 3, argtypes);
	memset(nulls, ' ', sizeof(nulls));
	EventValues(d, values, nulls);
	values[EVENT_NCOLS] = CStringGetTextDatum(transient ? "received" : "failed");
	values[EVENT_NCOLS + 1] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
	values[EVENT_NCOLS + 2] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	RunPlan(failure_plan, values, nulls, SPI_OK_INSERT, "recording a failed event");
}

/*
 * ProcessAndRecord
 *		Process an accepted event and record it; on failure, roll the
 *		processing back and record the error instead.
 */
static void
ProcessAndRecord(Delivery *d)
{
	WebhookResult *res = d->res;
	ErrorData  *edata;
	ErrorData  *edata2;
	bool		transient;
	const char *sqlstate;
	const char *message;

	edata = RunGuarded(ProcessCallback, d);
	if (edata == NULL)
		return;

	d->failure = edata;
	transient = IsTransientError(edata->sqlerrcode);
	sqlstate = unpack_sql_state(edata->sqlerrcode);
	message = edata->message ? edata->message : "unknown error";
	res->order_id = NULL;
	res->sqlstate = pstrdup(sqlstate);
	if (transient)
		SetResult(res, WEBHOOK_HTTP_UNAVAILABLE,
				  psprintf("temporary failure, retry later: %s", message));
	else
		SetResult(res, PermanentStatus(edata->sqlerrcode),
				  psprintf("event could not be processed: %s", message));

	edata2 = RunGuarded(RecordFailureCallback, d);
	if (edata2 == NULL)
		ereport(WARNING,
				(errmsg("stripe event %s (%s) %s", d->ev.id, d->ev.type,
						transient ? "hit a transient error, left for a retry" : "failed"),
				 errdetail("SQLSTATE %s: %s", sqlstate, message)));
	else if (IsTransientError(edata2->sqlerrcode))
	{
		/* not even the failure could be recorded: let Stripe retry */
		res->sqlstate = pstrdup(unpack_sql_state(edata2->sqlerrcode));
		SetResult(res, WEBHOOK_HTTP_UNAVAILABLE,
				  psprintf("temporary failure, retry later: %s", edata2->message));
		ereport(WARNING,
				(errmsg("stripe event %s (%s) hit a transient error, nothing recorded",
						d->ev.id, d->ev.type),
				 errdetail("SQLSTATE %s: %s", sqlstate, message)));
	}
	else
		ReThrowError(edata2);
}

/*
 * AnswerEscaped
 *		Turn an error that escaped the accept step into an answer:
 *		transient errors become 503 with nothing written, an error while
 *		parsing the body becomes 400, anything else is raised again (it
 *		cannot be 40001/40P01: those are transient).
 */
static void
AnswerEscaped(Delivery *d, ErrorData *edata)
{
	d->res->order_id = NULL;
	if (IsTransientError(edata->sqlerrcode))
	{
		d->res->sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
		SetResult(d->res, WEBHOOK_HTTP_UNAVAILABLE,
				  psprintf("temporary failure, retry later: %s", edata->message));
		ereport(WARNING,
				(errmsg("stripe webhook delivery hit a transient error, nothing recorded"),
				 errdetail("SQLSTATE %s: %s", d->res->sqlstate, edata->message)));
	}
	else if (d->phase == PHASE_PARSE)
	{
		d->res->event_id = NULL;
		d->res->event_type = NULL;
		SetResult(d->res, WEBHOOK_HTTP_BAD_REQUEST, "payload is not valid JSON");
		StepLog("stripe webhook delivery rejected: body is not valid JSON");
	}
	else
		ReThrowError(edata);
}

/* SQL function: stripe_handle_webhook(payload text, signature_header text) RETURNS jsonb */
Datum
stripe_handle_webhook(PG_FUNCTION_ARGS)
{
	MemoryContext callercxt = CurrentMemoryContext;
	WebhookResult res;
	Delivery	d;
	Jsonb	   *result;

	memset(&res, 0, sizeof(res));
	memset(&d, 0, sizeof(d));
	d.res = &res;
	d.payload = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	d.header = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);

	SpiConnect();

	if (d.payload == NULL)
		SetResult(&res, WEBHOOK_HTTP_BAD_REQUEST, "missing payload");
	else if (d.header == NULL || VARSIZE_ANY_EXHDR(d.header) == 0)
		Reject(&d, WEBHOOK_HTTP_BAD_REQUEST, "missing Stripe-Signature header", "missing_header");
	else
	{
		ErrorData  *edata = RunGuarded(AcceptCallback, &d);

		if (edata != NULL)
			AnswerEscaped(&d, edata);
		else if (!d.done)
			ProcessAndRecord(&d);
	}

	MemoryContextSwitchTo(callercxt);
	result = WebhookResultToJsonb(&res);
	SpiFinish();

	PG_RETURN_JSONB_P(result);
}

/* SQL function: stripe_replay_event(event_id text) RETURNS jsonb */
Datum
stripe_replay_event(PG_FUNCTION_ARGS)
{
	MemoryContext callercxt = CurrentMemoryContext;
	WebhookResult res;
	Delivery	d;
	Jsonb	   *result;
	ErrorData  *edata;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("event id must not be null")));

	memset(&res, 0, sizeof(res));
	memset(&d, 0, sizeof(d));
	d.res = &res;
	d.replay_id = text_to_cstring(PG_GETARG_TEXT_PP(0));

	SpiConnect();

	edata = RunGuarded(ReplayAcceptCallback, &d);
	if (edata != NULL)
		AnswerEscaped(&d, edata);
	else if (d.not_found)
		ereport(ERROR,
				(errcode(ERRCODE_SW_EVENT_NOT_FOUND),
				 errmsg("stripe event \"%s\" not found", d.replay_id),
				 errhint("Recorded events are listed in stripe_webhook.events.")));
	else if (!d.done)
		ProcessAndRecord(&d);
	StepLog("stripe event %s replayed: %s", d.replay_id, res.message);

	MemoryContextSwitchTo(callercxt);
	result = WebhookResultToJsonb(&res);
	SpiFinish();

	PG_RETURN_JSONB_P(result);
}
