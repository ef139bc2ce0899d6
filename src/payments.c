/*-------------------------------------------------------------------------
 *
 * payments.c
 *		Refunds and disputes: charge.refunded, refund.created/updated/failed
 *		and charge.dispute.created/updated/closed, for the built-in tables
 *		and any shop binding.
 *
 * Each event finds its order by the payment intent of its object (the
 * charge's, the refund's, the dispute's), through the payment intent the
 * completed path keeps in stripe_webhook.checkout_sessions.  What Stripe
 * reports is kept first, per payment intent, whether an order has it yet
 * or not (stripe_webhook.order_payments, stripe_webhook.refunds), combined
 * so that any order and any repetition of the events gives the same
 * figures:
 *
 *	  charge.refunded  charge_refunded = the largest charge.amount_refunded
 *					   seen (Stripe's cumulative figure)
 *	  refund.*		   each refund's amount and most advanced status
 *					   (pending, requires_action < succeeded < failed,
 *					   canceled)
 *	  amount_refunded  GREATEST(charge_refunded less the refunds that
 *					   failed or were canceled, the refunds that are
 *					   pending or succeeded): a refund that fails after
 *					   Stripe counted it in the charge's figure is taken
 *					   out again
 *	  charge.dispute.* the dispute's most advanced status (inquiry before
 *					   dispute, open before closed)
 *
 * Then the figures are applied to the order, if there is one:
 *
 *	  refunded in full (amount_refunded >= the charge's amount, or the
 *	  session's total)  -> status refunded, an 'order_refunded' change;
 *	  partly			-> the status is kept, the amount recorded;
 *	  a dispute			-> needs_review, the dispute in the review reason
 *						   (not for an order refunded in full);
 *	  a full refund that falls back (a refund failed) -> needs_review.
 *
 * The refunded amount is mirrored into the shop's orders table when the
 * binding maps orders.amount_refunded.  Stock is never returned here:
 * staff call stripe_webhook.restock_order() (restock.c).
 *
 * An event for a payment intent that no order has (yet) is kept and
 * answered 2xx; the completed path applies the kept figures when it
 * creates the order (PaymentsApplyToNewOrder).  An advisory lock per
 * payment intent, taken by both, makes sure one of them sees the other's
 * work.  A charge, refund or dispute without a payment intent is ignored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil_int.h"
#include "jsonb_util.h"
#include "payments.h"
#include "session.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

/* Advisory lock class of the per-payment-intent locks ("swpi") */
#define PAYMENT_LOCK_CLASS	0x73777069

/* Longest id or status word accepted */
#define PAYMENT_MAX_TEXT	255

/* How far a refund has got: a later status never goes back */
#define REFUND_RANK(s) \
	"CASE " s " WHEN 'succeeded' THEN 2 WHEN 'failed' THEN 3 WHEN 'canceled' THEN 3 ELSE 1 END"

/* How far a dispute has got: inquiry, then dispute; open, then closed */
#define DISPUTE_RANK(s) \
	"CASE " s " WHEN 'warning_needs_response' THEN 1 WHEN 'warning_under_review' THEN 2" \
	" WHEN 'warning_closed' THEN 3 WHEN 'needs_response' THEN 4 WHEN 'under_review' THEN 5" \
	" WHEN 'won' THEN 6 WHEN 'lost' THEN 6 WHEN 'prevented' THEN 6 ELSE 0 END"

/* A charge, refund or dispute as read from event.data.object */
typedef struct PaymentObject
{
	const char *kind;			/* "charge", "refund" or "dispute" */
	char	   *id;
	char	   *payment_intent; /* NULL if none */
	char	   *currency;
	int64		amount;
	int64		amount_refunded;	/* charge */
	char	   *status;			/* refund, dispute */
	char	   *reason;			/* dispute */
} PaymentObject;

/* What the extension keeps of a payment intent (order_payments) */
typedef struct PaymentRow
{
	char	   *order_table;
	char	   *order_id;
	char	   *currency;
	bool		has_charged;
	int64		amount_charged;
	int64		amount_refunded;
	char	   *refund_state;
	char	   *dispute_id;
	char	   *dispute_status;
	char	   *dispute_reason;
} PaymentRow;

/* The order of a payment intent, locked */
typedef struct PaymentOrder
{
	char	   *id;
	char	   *status_word;
	OrderState	state;
	PaymentState payment;
	char	   *review_reason;
	char	   *session;
	bool		has_total;
	int64		amount_total;
} PaymentOrder;

/* Kept plans of the statements on the extension's own tables */
static SPIPlanPtr record_charge_plan = NULL;
static SPIPlanPtr record_refund_plan = NULL;
static SPIPlanPtr ensure_payment_plan = NULL;
static SPIPlanPtr derive_plan = NULL;
static SPIPlanPtr record_dispute_plan = NULL;
static SPIPlanPtr read_payment_plan = NULL;
static SPIPlanPtr link_plan = NULL;

/*
 * ObjectError
 *		SW208: a field of the event's object is missing or of the wrong
 *		type.  Raised before anything is written.
 */
pg_noreturn static void
ObjectError(const PaymentObject *po, const char *field, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_OBJECT_INVALID),
			 errmsg("%s object of the event is invalid", po->kind),
			 errdetail("Field \"%s\" of %s \"%s\" %s.", field, po->kind,
					   po->id ? SessionDisplayValue(po->id) : "(no id)", problem),
			 errhint("Pass event.data.object of the event as Stripe sent it; nothing was changed.")));
}

/*
 * GetWord
 *		A string field made of allowed characters, 1..PAYMENT_MAX_TEXT
 *		long; NULL when absent or null and not required.
 */
static char *
GetWord(const PaymentObject *po, JsonbContainer *obj, const char *key,
		const char *allowed, bool required)
{
	JsonbValue	v;
	char	   *s;

	if (!JsonbGetKey(obj, key, &v) || v.type == jbvNull)
	{
		if (required)
			ObjectError(po, key, "is missing");
		return NULL;
	}
	if (v.type != jbvString)
		ObjectError(po, key, "is not a string");
	if (v.val.string.len == 0 || v.val.string.len > PAYMENT_MAX_TEXT)
		ObjectError(po, key, "is empty or too long");
	s = JsonbCopyString(&v);
	if (strspn(s, allowed) != strlen(s))
		ObjectError(po, key, psprintf("has characters not allowed (got \"%s\")",
									  SessionDisplayValue(s)));
	return s;
}

/*
 * GetAmount
 *		A non-negative integer of minor units that fits in an int8.
 */
static int64
GetAmount(const PaymentObject *po, JsonbContainer *obj, const char *key)
{
	JsonbValue	v;
	char	   *text;
	int64		result;

	if (!JsonbGetKey(obj, key, &v) || v.type == jbvNull)
		ObjectError(po, key, "is missing");
	if (v.type != jbvNumeric)
		ObjectError(po, key, "is not a number");
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	if (text[0] == '\0' || strspn(text, "0123456789") != strlen(text) || strlen(text) > 18)
		ObjectError(po, key, psprintf("must be a whole, non-negative number of minor units (got %s)",
									  SessionDisplayValue(text)));
	result = strtoi64(text, NULL, 10);
	return result;
}

/*
 * ParsePaymentObject
 *		Validate event.data.object as a Stripe object of the given kind and
 *		read the fields used here.
 */
static void
ParsePaymentObject(Jsonb *object, const char *kind, PaymentObject *po)
{
	static const char id_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
	static const char word_chars[] = "abcdefghijklmnopqrstuvwxyz_";
	JsonbContainer *obj;
	JsonbValue	v;

	memset(po, 0, sizeof(*po));
	po->kind = kind;
	if (object == NULL || JB_ROOT_IS_SCALAR(object) || !JB_ROOT_IS_OBJECT(object))
		ereport(ERROR,
				(errcode(ERRCODE_SW_OBJECT_INVALID),
				 errmsg("%s object of the event is invalid", kind),
				 errdetail("The object is not a JSON object."),
				 errhint("Pass event.data.object of the event as Stripe sent it; nothing was changed.")));
	obj = &object->root;
	if (!JsonbGetKey(obj, "object", &v) || !JsonbStringEquals(&v, kind))
		ereport(ERROR,
				(errcode(ERRCODE_SW_OBJECT_INVALID),
				 errmsg("%s object of the event is invalid", kind),
				 errdetail("Its \"object\" field is not \"%s\".", kind),
				 errhint("Pass event.data.object of a %s event; nothing was changed.",
						 strcmp(kind, "charge") == 0 ? "charge.refunded" :
						 strcmp(kind, "refund") == 0 ? "refund.*" : "charge.dispute.*")));
	po->id = GetWord(po, obj, "id", id_chars, true);
	po->payment_intent = GetWord(po, obj, "payment_intent", id_chars, false);
	po->currency = GetWord(po, obj, "currency", word_chars, true);
	if (strlen(po->currency) != 3)
		ObjectError(po, "currency", "is not a three-letter currency code");
	po->amount = GetAmount(po, obj, "amount");
	if (strcmp(kind, "charge") == 0)
	{
		po->amount_refunded = GetAmount(po, obj, "amount_refunded");
		if (po->amount_refunded > po->amount)
			ObjectError(po, "amount_refunded", "is larger than the charge's amount");
	}
	else
		po->status = GetWord(po, obj, "status", word_chars, true);
	if (strcmp(kind, "dispute") == 0)
		po->reason = GetWord(po, obj, "reason", word_chars, true);
}

/*
 * LockPaymentIntent
 *		The transaction-level advisory lock of a payment intent: taken by
 *		every event of it and by the completed path before it looks for
 *		kept figures, so that one of the two always sees the other's rows.
 */
static void
LockPaymentIntent(const char *payment_intent)
{
	LockTextKey((int32) PAYMENT_LOCK_CLASS, payment_intent);
}

/*
 * Derive
 *		Recompute order_payments.amount_refunded from the kept figures.
 *		True when it changed.
 */
static bool
Derive(const char *payment_intent)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	KeepPlan(&derive_plan,
			 "UPDATE stripe_webhook.order_payments p"
			 "   SET amount_refunded = d.amount, updated_at = pg_catalog.now()"
			 "  FROM (SELECT GREATEST(q.charge_refunded - r.gone, r.counted, 0)::int8 AS amount"
			 "          FROM stripe_webhook.order_payments q,"
			 "               (SELECT COALESCE(pg_catalog.sum(r.amount)"
			 "                          FILTER (WHERE r.status IN ('pending', 'succeeded')), 0) AS counted,"
			 "                       COALESCE(pg_catalog.sum(r.amount)"
			 "                          FILTER (WHERE r.status IN ('failed', 'canceled')), 0) AS gone"
			 "                  FROM stripe_webhook.refunds r WHERE r.payment_intent = $1) r"
			 "         WHERE q.payment_intent = $1) d"
			 " WHERE p.payment_intent = $1 AND p.amount_refunded <> d.amount",
			 1, types);
	values[0] = CStringGetTextDatum(payment_intent);
	RunPlan(derive_plan, values, NULL, SPI_OK_UPDATE, "deriving the refunded amount");
	return SPI_processed > 0;
}

/*
 * RecordCharge
 *		Keep a charge.refunded's figures.  True when they changed anything.
 */
static bool
RecordCharge(const PaymentObject *po)
{
	Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		values[4];

	KeepPlan(&record_charge_plan,
			 "INSERT INTO stripe_webhook.order_payments AS p"
			 "    (payment_intent, currency, amount_charged, charge_refunded)"
			 " VALUES ($1, $2, $3, $4)"
			 " ON CONFLICT (payment_intent) DO UPDATE"
			 "   SET currency = COALESCE(p.currency, excluded.currency),"
			 "       amount_charged = excluded.amount_charged,"
			 "       charge_refunded = GREATEST(p.charge_refunded, excluded.charge_refunded),"
			 "       updated_at = pg_catalog.now()"
			 " WHERE p.charge_refunded < excluded.charge_refunded"
			 "    OR p.amount_charged IS DISTINCT FROM excluded.amount_charged OR p.currency IS NULL",
			 4, types);
	values[0] = CStringGetTextDatum(po->payment_intent);
	values[1] = CStringGetTextDatum(po->currency);
	values[2] = Int64GetDatum(po->amount);
	values[3] = Int64GetDatum(po->amount_refunded);
	RunPlan(record_charge_plan, values, NULL, SPI_OK_INSERT, "recording a refunded charge");
	return SPI_processed > 0;
}

/*
 * RecordRefund
 *		Keep a refund's amount and most advanced status, and make sure its
 *		payment intent has a row.  True when they changed anything.
 */
static bool
RecordRefund(const PaymentObject *po)
{
	Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, TEXTOID};
	Datum		values[4];
	bool		changed;

	KeepPlan(&record_refund_plan,
			 "INSERT INTO stripe_webhook.refunds AS r (id, payment_intent, amount, status)"
			 " VALUES ($1, $2, $3, $4)"
			 " ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = pg_catalog.now()"
			 " WHERE " REFUND_RANK("excluded.status") " > " REFUND_RANK("r.status"),
			 4, types);
	values[0] = CStringGetTextDatum(po->id);
	values[1] = CStringGetTextDatum(po->payment_intent);
	values[2] = Int64GetDatum(po->amount);
	values[3] = CStringGetTextDatum(po->status);
	RunPlan(record_refund_plan, values, NULL, SPI_OK_INSERT, "recording a refund");
	changed = SPI_processed > 0;

	KeepPlan(&ensure_payment_plan,
			 "INSERT INTO stripe_webhook.order_payments AS p (payment_intent, currency)"
			 " VALUES ($1, $2)"
			 " ON CONFLICT (payment_intent) DO UPDATE SET currency = excluded.currency"
			 " WHERE p.currency IS NULL",
			 2, types);
	values[0] = CStringGetTextDatum(po->payment_intent);
	values[1] = CStringGetTextDatum(po->currency);
	RunPlan(ensure_payment_plan, values, NULL, SPI_OK_INSERT, "recording a refund");
	return changed || SPI_processed > 0;
}

/*
 * RecordDispute
 *		Keep a dispute unless what is kept has got further.  True when it
 *		changed anything.
 */
static bool
RecordDispute(const PaymentObject *po)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[6];

	KeepPlan(&record_dispute_plan,
			 "INSERT INTO stripe_webhook.order_payments AS p"
			 "    (payment_intent, currency, dispute_id, dispute_status, dispute_reason, dispute_amount)"
			 " VALUES ($1, $2, $3, $4, $5, $6)"
			 " ON CONFLICT (payment_intent) DO UPDATE"
			 "   SET currency = COALESCE(p.currency, excluded.currency),"
			 "       dispute_id = excluded.dispute_id, dispute_status = excluded.dispute_status,"
			 "       dispute_reason = excluded.dispute_reason, dispute_amount = excluded.dispute_amount,"
			 "       updated_at = pg_catalog.now()"
			 " WHERE p.dispute_id IS NULL"
			 "    OR " DISPUTE_RANK("excluded.dispute_status") " > " DISPUTE_RANK("p.dispute_status"),
			 6, types);
	values[0] = CStringGetTextDatum(po->payment_intent);
	values[1] = CStringGetTextDatum(po->currency);
	values[2] = CStringGetTextDatum(po->id);
	values[3] = CStringGetTextDatum(po->status);
	values[4] = CStringGetTextDatum(po->reason);
	values[5] = Int64GetDatum(po->amount);
	RunPlan(record_dispute_plan, values, NULL, SPI_OK_INSERT, "recording a dispute");
	return SPI_processed > 0;
}

/*
 * ReadPayment
 *		The kept row of a payment intent; false when there is none.
 */
static bool
ReadPayment(const char *payment_intent, PaymentRow *row)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	KeepPlan(&read_payment_plan,
			 "SELECT order_table, order_id, currency, amount_charged, amount_refunded, refund_state,"
			 "       dispute_id, dispute_status, dispute_reason"
			 "  FROM stripe_webhook.order_payments WHERE payment_intent = $1",
			 1, types);
	values[0] = CStringGetTextDatum(payment_intent);
	RunPlan(read_payment_plan, values, NULL, SPI_OK_SELECT, "reading a payment");
	memset(row, 0, sizeof(*row));
	if (SPI_processed == 0)
		return false;
	row->order_table = SpiText(0, 1);
	row->order_id = SpiText(0, 2);
	row->currency = SpiText(0, 3);
	row->amount_charged = SpiInt64(0, 4, &isnull);
	row->has_charged = !isnull;
	row->amount_refunded = SpiInt64(0, 5, &isnull);
	row->refund_state = SpiText(0, 6);
	row->dispute_id = SpiText(0, 7);
	row->dispute_status = SpiText(0, 8);
	row->dispute_reason = SpiText(0, 9);
	return true;
}

/*
 * LinkPayment
 *		Name the order in the payment's row and store its refund state.
 */
static void
LinkPayment(const ShopBinding *b, const char *payment_intent, const char *order_id,
			const char *refund_state)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	KeepPlan(&link_plan,
			 "UPDATE stripe_webhook.order_payments"
			 "   SET order_table = $2, order_id = $3, refund_state = $4, updated_at = pg_catalog.now()"
			 " WHERE payment_intent = $1"
			 "   AND (order_table IS DISTINCT FROM $2 OR order_id IS DISTINCT FROM $3"
			 "        OR refund_state <> $4)",
			 4, types);
	values[0] = CStringGetTextDatum(payment_intent);
	values[1] = CStringGetTextDatum(b->table[ROLE_ORDERS]);
	values[2] = CStringGetTextDatum(order_id);
	values[3] = CStringGetTextDatum(refund_state);
	RunPlan(link_plan, values, NULL, SPI_OK_UPDATE, "linking a payment to its order");
}

/*
 * LockPaymentOrder
 *		The order of a payment intent in the bound orders table, locked;
 *		false when there is none.
 */
static bool
LockPaymentOrder(const ShopBinding *b, const char *payment_intent, PaymentOrder *order)
{
	Datum		values[PO_NPARAMS];
	bool		isnull;

	values[PO_PAYMENT_INTENT] = CStringGetTextDatum(payment_intent);
	ShopRun(b, STMT_PAYMENT_ORDER, values, NULL, SPI_OK_SELECT);
	memset(order, 0, sizeof(*order));
	if (SPI_processed == 0)
		return false;
	order->id = SpiText(0, 1);
	order->status_word = SpiText(0, 2);
	order->state = ShopOrderState(b, order->status_word);
	order->payment = PaymentStateFromName(SpiText(0, 3));
	order->review_reason = SpiText(0, 4);
	order->session = SpiText(0, 5);
	order->amount_total = SpiInt64(0, 6, &isnull);
	order->has_total = !isnull;
	return true;
}

/*
 * FlagPaymentOrder
 *		needs_review with one more reason (STMT_FLAG, as the session events
 *		flag), and a WARNING.  A reason the order has already is not added
 *		again; false then.
 */
static bool
FlagPaymentOrder(const ShopBinding *b, PaymentOrder *order, const char *reason,
				 const char *hint, const char *event_id)
{
	char	   *full = FlagOrderRow(b, order->id, order->session, order->review_reason, reason,
									order->payment, event_id);

	if (full == NULL)
		return false;
	ereport(WARNING,
			(errmsg("order %s needs review", order->id),
			 errdetail("Reason: %s.", reason),
			 errhint("%s", hint)));
	order->review_reason = full;
	order->state = ORDER_NEEDS_REVIEW;
	return true;
}

/*
 * RefundOrder
 *		STMT_REFUND_ORDER: the amount mirrored (if bound) and, when refunded
 *		is set, the status refunded with an 'order_refunded' change.
 */
static void
RefundOrder(const ShopBinding *b, PaymentOrder *order, const PaymentRow *row,
			bool refunded, const char *event_id)
{
	Datum		values[RF_NPARAMS];
	char		nulls[RF_NPARAMS];

	memset(nulls, ' ', sizeof(nulls));
	values[RF_ORDER] = CStringGetTextDatum(order->id);
	values[RF_SESSION] = CStringGetTextDatum(order->session);
	values[RF_STATUS_WORD] = SpiParamText(refunded ? b->order_word[ORDER_REFUNDED] : NULL,
										  nulls, RF_STATUS_WORD);
	values[RF_AMOUNT] = Int64GetDatum(row->amount_refunded);
	if (row->currency == NULL)
		elog(ERROR, "payment of order \"%s\" has no currency", order->id);
	values[RF_CURRENCY] = CStringGetTextDatum(row->currency);
	values[RF_EVENT] = SpiParamText(event_id, nulls, RF_EVENT);
	ShopRun(b, STMT_REFUND_ORDER, values, nulls, SPI_OK_UPDATE);
	if (refunded)
		order->state = ORDER_REFUNDED;
}

/*
 * DisputeReason
 *		The review reason of a dispute in its kept status.
 */
static char *
DisputeReason(const PaymentRow *row)
{
	const char *s = row->dispute_status;

	if (strcmp(s, "won") == 0 || strcmp(s, "lost") == 0 ||
		strcmp(s, "warning_closed") == 0 || strcmp(s, "prevented") == 0)
		return psprintf("dispute %s (%s) closed: %s", row->dispute_id, row->dispute_reason, s);
	return psprintf("dispute %s (%s): %s", row->dispute_id, row->dispute_reason, s);
}

/*
 * ApplyToOrder
 *		Apply the kept figures of a payment intent to its order, if it has
 *		one.  amount_changed: this event changed the refunded amount;
 *		recorded: the message when it kept anything new (NULL when it kept
 *		nothing).  Sets out->message and out->order_id.
 */
static void
ApplyToOrder(const ShopBinding *b, const char *payment_intent, const char *event_id,
			 bool amount_changed, const char *recorded, SessionOutcome *out)
{
	PaymentOrder order;
	PaymentRow	row;
	bool		acted = false;
	bool		full;
	bool		have_total;
	int64		total;
	const char *state;

	if (!LockPaymentOrder(b, payment_intent, &order))
	{
		StepLog("payment intent %s has no order yet: figures kept", payment_intent);
		out->message = "recorded; no order has this payment intent yet";
		return;
	}
	out->order_id = order.id;
	if (!ReadPayment(payment_intent, &row))
		elog(ERROR, "payment intent \"%s\" has no kept figures", payment_intent);

	/* linked just now: everything kept applies for the first time */
	if (row.order_id == NULL || strcmp(row.order_id, order.id) != 0 ||
		strcmp(row.order_table, b->table[ROLE_ORDERS]) != 0)
		amount_changed = true;

	have_total = row.has_charged || order.has_total;
	total = row.has_charged ? row.amount_charged : order.amount_total;
	full = row.amount_refunded > 0 && have_total && row.amount_refunded >= total;
	state = row.amount_refunded == 0 ? "none" : full ? "full" : "partial";

	if (full && order.state != ORDER_REFUNDED)
	{
		RefundOrder(b, &order, &row, true, event_id);
		StepLog("order %s refunded in full (" INT64_FORMAT " %s)", order.id,
				row.amount_refunded, row.currency);
		out->message = "order refunded";
		acted = true;
	}
	else if (amount_changed)
	{
		if (b->field[F_ORDER_AMOUNT_REFUNDED].bound)
			RefundOrder(b, &order, &row, false, event_id);
		StepLog("order %s refunded in part (" INT64_FORMAT " %s)", order.id,
				row.amount_refunded, row.currency);
		out->message = "refund recorded";
		acted = true;
	}

	if (strcmp(row.refund_state, "full") == 0 && !full &&
		FlagPaymentOrder(b, &order,
						 psprintf("the refunded amount fell to " INT64_FORMAT " %s after the order was refunded in full",
								  row.amount_refunded, row.currency ? row.currency : ""),
						 "A refund failed or was canceled: check the payment in the Stripe Dashboard.",
						 event_id))
	{
		out->message = "order flagged for review";
		acted = true;
	}

	if (row.dispute_id != NULL && order.state != ORDER_REFUNDED &&
		FlagPaymentOrder(b, &order, DisputeReason(&row),
						 "Answer the dispute in the Stripe Dashboard and hold the order until it is settled.",
						 event_id))
	{
		out->message = "order flagged for review";
		acted = true;
	}

	LinkPayment(b, payment_intent, order.id, state);
	if (!acted)
		out->message = recorded != NULL ? recorded : "already processed";
}

/*
 * BeginPaymentEvent
 *		Parse and check the object; a payment intent must be there (else
 *		the event is ignored: false).  Then SPI, the binding and the payment
 *		intent's lock.
 */
static bool
BeginPaymentEvent(Jsonb *object, const char *kind, PaymentObject *po,
				  const ShopBinding **b, SessionOutcome *out)
{
	memset(out, 0, sizeof(*out));
	ParsePaymentObject(object, kind, po);
	if (po->payment_intent == NULL)
	{
		out->ignored = true;
		out->message = psprintf("ignored: the %s has no payment intent", kind);
		StepLog("%s %s has no payment intent: ignored", kind, po->id);
		return false;
	}
	SpiConnect();
	*b = ShopBindingAcquire();
	LockPaymentIntent(po->payment_intent);
	return true;
}

/*
 * RefundFigures
 *		The work of charge.refunded and refund.*: record the object's
 *		figures with record, derive the refunded amount again, and apply
 *		it to the order if there is one.
 */
static void
RefundFigures(Jsonb *object, const char *event_id, const char *kind,
			  bool (*record) (const PaymentObject *po), SessionOutcome *out)
{
	PaymentObject po;
	const ShopBinding *b;
	bool		changed;
	bool		amount_changed;

	if (!BeginPaymentEvent(object, kind, &po, &b, out))
		return;
	changed = record(&po);
	amount_changed = Derive(po.payment_intent);
	ApplyToOrder(b, po.payment_intent, event_id, amount_changed,
				 changed || amount_changed ? "refund recorded" : NULL, out);
	EndSessionEvent(out);
}

/*
 * ChargeRefunded
 *		charge.refunded.  See payments.h.
 */
void
ChargeRefunded(Jsonb *object, const char *event_id, SessionOutcome *out)
{
	RefundFigures(object, event_id, "charge", RecordCharge, out);
}

/*
 * RefundEvent
 *		refund.created, refund.updated, refund.failed.  See payments.h.
 */
void
RefundEvent(Jsonb *object, const char *event_id, SessionOutcome *out)
{
	RefundFigures(object, event_id, "refund", RecordRefund, out);
}

/*
 * DisputeEvent
 *		charge.dispute.created, .updated, .closed.  See payments.h.
 */
void
DisputeEvent(Jsonb *object, const char *event_id, SessionOutcome *out)
{
	PaymentObject po;
	const ShopBinding *b;
	bool		changed;

	if (!BeginPaymentEvent(object, "dispute", &po, &b, out))
		return;
	changed = RecordDispute(&po);
	ApplyToOrder(b, po.payment_intent, event_id, false,
				 changed ? "dispute recorded" : NULL, out);
	EndSessionEvent(out);
}

/*
 * PaymentsApplyToNewOrder
 *		See payments.h.
 */
void
PaymentsApplyToNewOrder(const ShopBinding *b, const char *payment_intent,
						const char *event_id)
{
	PaymentRow	row;
	SessionOutcome out;

	if (payment_intent == NULL)
		return;
	LockPaymentIntent(payment_intent);
	if (!ReadPayment(payment_intent, &row) || row.order_id != NULL)
		return;
	memset(&out, 0, sizeof(out));
	ApplyToOrder(b, payment_intent, event_id, true, "recorded", &out);
}
