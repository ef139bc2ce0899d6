/*-------------------------------------------------------------------------
 *
 * fulfil_completed.c
 *		The completed path of checkout.session.completed, once the user and
 *		the cart are locked (FulfilLocked, called by fulfil.c).
 *
 * A completed session takes these steps, each statement generated from the
 * shop binding (shop_sql.c) and kept:
 *
 *	  read	 lock the cart row (FOR NO KEY UPDATE); then, in a fresh snapshot
 *			 (so it sees whatever the previous holder of the cart lock
 *			 committed): the session's existing order, a recorded expiry or
 *			 failure, and the cart's lines summed per product with prices;
 *	  decide in C, no SQL: whether the order takes stock, whether it needs
 *			 review and why, the money check;
 *	  write	 one data-modifying statement: the order, the extension's lines,
 *			 the order's changes, the cart locked, the user's new active
 *			 cart, the session's record;
 *	  lock	 the products (of the order and of the session's stock hold) in
 *			 ascending id order, reading their stock and the held units;
 *	  decide in C: what each line takes from the hold and from stock, the
 *			 stock's changes, "stock short" when a line is short;
 *	  stock	 one statement: the order's items, the stock, the hold settled;
 *			 on the rare short path, first the order's final status and
 *			 reason and its lines' shortfall (STMT_MARK_SHORT).
 *
 * The products are locked after the order is written so that each product
 * row is held from the lock to commit only, through one short statement:
 * when every cart holds the same products (a flash sale), fulfilments wait
 * for each other only that long.  The items are inserted after the lock, so
 * their foreign key checks find product rows this transaction holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil.h"
#include "fulfil_int.h"
#include "payments.h"
#include "session.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

/* Most reasons one order can be flagged for */
#define MAX_REVIEW_REASONS 4

/* Why an order needs review: one WARNING each, joined into the reason */
typedef struct Review
{
	int			n;
	const char *reason[MAX_REVIEW_REASONS];
	const char *hint[MAX_REVIEW_REASONS];
} Review;

/* One cart line, summed per product, as read and as decided */
typedef struct CartLine
{
	char	   *product;		/* text form of the product id */
	int64		quantity;
	int64		unit_amount;	/* minor units */
	char	   *currency;
	int64		taken;			/* taken, from the hold and from stock */
	int64		shortfall;		/* quantity - taken when stock is taken */
} CartLine;

/* One product locked by STMT_TAKE_LOCK (in id order), and what it gives */
typedef struct StockRow
{
	char	   *product;		/* text form of the product id */
	int64		stock;			/* as locked */
	int64		held;			/* the session's held units */
	int64		from_hold;		/* units the order takes from the hold */
	int64		delta;			/* the stock's change */
} StockRow;

/* What the read step found */
typedef struct CartRead
{
	int			n;
	CartLine   *lines;
	char	   *existing_order; /* the session's order, or NULL */
	char	   *recorded;		/* expired / payment_failed, or NULL */
	int			nstock;
	StockRow   *stock;			/* after LockStock */
} CartRead;

/* The cart lines as array parameters of the write statements */
typedef struct LineArrays
{
	Datum		products;		/* text[] */
	Datum		quantities;		/* int8[] */
	Datum		unit_amounts;	/* int8[], minor units */
	Datum		currencies;		/* text[] */
	Datum		taken;			/* int8[] */
	Datum		shortfalls;		/* int8[] */
} LineArrays;

/* What the decide step chose */
typedef struct OrderDecision
{
	bool		take_stock;		/* the order takes stock and its cart */
	OrderState	state;
	Review		review;
	char	   *reason;			/* the reasons joined, or NULL */
} OrderDecision;

/*
 * AddReview
 *		Flag the order for review, with a reason (stored and logged) and a
 *		hint for staff (logged).
 */
static void
AddReview(Review *review, const char *hint, const char *reason)
{
	Assert(review->n < MAX_REVIEW_REASONS);
	review->reason[review->n] = reason;
	review->hint[review->n] = hint;
	review->n++;
}

/*
 * ReadCart
 *		The read step after the cart lock: the cart's lines with their
 *		prices, the session's order and recorded outcome.
 */
static void
ReadCart(SessionEvent *ev, CartRead *rd)
{
	Datum		values[CL_NPARAMS];

	values[CL_CART] = CStringGetTextDatum(ev->cart_key);
	values[CL_SESSION] = CStringGetTextDatum(ev->s.id);
	ShopRun(ev->b, STMT_CART_LINES, values, NULL, SPI_OK_SELECT);

	rd->n = (int) SPI_processed;
	rd->lines = palloc0(Max(rd->n, 1) * sizeof(CartLine));
	rd->existing_order = rd->n > 0 ? SpiText(0, 5) : NULL;
	rd->recorded = rd->n > 0 ? SpiText(0, 6) : NULL;
	for (int i = 0; i < rd->n; i++)
	{
		CartLine   *l = &rd->lines[i];
		bool		isnull;

		l->product = SpiText(i, 1);
		l->quantity = SpiInt64(i, 2, &isnull);
		l->unit_amount = SpiInt64(i, 3, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("product %s has no price", l->product),
					 errdetail("Its price in %s is NULL.", ev->b->table_name[ROLE_PRODUCTS]),
					 errhint("Set the product's price; nothing was changed.")));
		l->currency = SpiText(i, 4);
	}
}

/*
 * JoinReasons
 *		The review reasons joined with "; ", or NULL when there are none.
 */
static char *
JoinReasons(const Review *review)
{
	StringInfoData r;

	if (review->n == 0)
		return NULL;
	initStringInfo(&r);
	for (int i = 0; i < review->n; i++)
		appendStringInfo(&r, "%s%s", i > 0 ? "; " : "", review->reason[i]);
	return r.data;
}

/*
 * DecideOrder
 *		The decide step, before the products are locked: no SQL.  Whether
 *		the order takes stock, the money check, and the order's state before
 *		the stock is known (DecideStock can only add "stock short").
 */
static void
DecideOrder(SessionEvent *ev, CartRead *rd, OrderDecision *d)
{
	CheckoutSession *s = &ev->s;
	const char *cart_currency = NULL;
	bool		mixed_currency = false;
	bool		overflow = false;
	int64		subtotal = 0;

	memset(d, 0, sizeof(*d));
	d->take_stock = true;

	/* Money that must not be dropped, but for which no stock is taken */
	if (rd->recorded != NULL)
	{
		d->take_stock = false;
		AddReview(&d->review,
				  "Refund the payment, or fulfil the order by hand if the customer still wants it.",
				  psprintf("checkout session completed after it was recorded as %s; no stock was taken",
						   rd->recorded));
	}
	else if (ev->cart.locked && ev->cart.consumed_by != NULL)
	{
		d->take_stock = false;
		AddReview(&d->review,
				  "The customer has paid twice for one cart: refund one of the payments in the Stripe Dashboard.",
				  psprintf("duplicate payment: cart %s was already checked out by checkout session %s; no stock was taken",
						   ev->cart_key, ev->cart.consumed_by));
	}

	for (int i = 0; i < rd->n; i++)
	{
		CartLine   *l = &rd->lines[i];
		int64		line;

		if (pg_mul_s64_overflow(l->unit_amount, l->quantity, &line) ||
			pg_add_s64_overflow(subtotal, line, &subtotal))
			overflow = true;
		if (cart_currency == NULL)
			cart_currency = l->currency;
		else if (strcmp(cart_currency, l->currency) != 0)
			mixed_currency = true;
	}

	/* the money, in the shop's currency */
	if (mixed_currency)
		AddReview(&d->review, "Price every product in one currency.",
				  "the cart's products are priced in more than one currency");
	else if (strcmp(cart_currency, s->currency) != 0)
		AddReview(&d->review, "Check the currency the Checkout Session was created with.",
				  psprintf("currency mismatch: the session is in %s but the cart's products are priced in %s",
						   s->currency, cart_currency));
	else if (overflow)
		AddReview(&d->review, "Check the cart's quantities and the products' prices.",
				  "the cart's subtotal does not fit in a bigint");
	else if (subtotal != s->amount_subtotal)
		AddReview(&d->review,
				  "Compare the Stripe payment with the cart; prices may have changed after the session was created.",
				  psprintf("amount mismatch: the session's subtotal is " INT64_FORMAT " %s but the cart's items cost " INT64_FORMAT " %s",
						   s->amount_subtotal, s->currency, subtotal, cart_currency));

	d->state = d->review.n > 0 ? ORDER_NEEDS_REVIEW : (s->paid ? ORDER_CONFIRMED : ORDER_PENDING);
	d->reason = JoinReasons(&d->review);

	/* until the stock is read (DecideStock), every line takes its quantity */
	for (int i = 0; i < rd->n; i++)
	{
		rd->lines[i].taken = d->take_stock ? rd->lines[i].quantity : 0;
		rd->lines[i].shortfall = 0;
	}
}

/*
 * LineArraysOf
 *		The cart lines, as they are now decided, as array parameters.
 */
static void
LineArraysOf(const CartRead *rd, LineArrays *a)
{
	int			nl = Max(rd->n, 1);
	Datum	   *products = palloc(nl * sizeof(Datum));
	Datum	   *quantities = palloc(nl * sizeof(Datum));
	Datum	   *amounts = palloc(nl * sizeof(Datum));
	Datum	   *currencies = palloc(nl * sizeof(Datum));
	Datum	   *taken = palloc(nl * sizeof(Datum));
	Datum	   *shortfalls = palloc(nl * sizeof(Datum));

	for (int i = 0; i < rd->n; i++)
	{
		products[i] = CStringGetTextDatum(rd->lines[i].product);
		quantities[i] = Int64GetDatum(rd->lines[i].quantity);
		amounts[i] = Int64GetDatum(rd->lines[i].unit_amount);
		currencies[i] = CStringGetTextDatum(rd->lines[i].currency);
		taken[i] = Int64GetDatum(rd->lines[i].taken);
		shortfalls[i] = Int64GetDatum(rd->lines[i].shortfall);
	}
	a->products = SpiParamArray(products, rd->n, TEXTOID);
	a->quantities = SpiParamArray(quantities, rd->n, INT8OID);
	a->unit_amounts = SpiParamArray(amounts, rd->n, INT8OID);
	a->currencies = SpiParamArray(currencies, rd->n, TEXTOID);
	a->taken = SpiParamArray(taken, rd->n, INT8OID);
	a->shortfalls = SpiParamArray(shortfalls, rd->n, INT8OID);
}

/*
 * LockStock
 *		Lock the products of the order and of the session's stock hold, in
 *		id order, and read their stock and the session's held units into
 *		rd->stock.  Locked before the order's items are inserted, which
 *		matters when many orders hold the same products (a flash sale): the
 *		items' foreign key checks then find rows this transaction has locked
 *		already, instead of every waiting transaction adding a key-share
 *		lock to them (each a new multixact of every locker).
 */
static void
LockStock(SessionEvent *ev, CartRead *rd, OrderDecision *d, const LineArrays *lines)
{
	Datum		lock[TL_NPARAMS];

	lock[TL_SESSION] = CStringGetTextDatum(ev->s.id);
	lock[TL_PRODUCTS] = d->take_stock ? lines->products : SpiParamArray(NULL, 0, TEXTOID);
	ShopRun(ev->b, STMT_TAKE_LOCK, lock, NULL, SPI_OK_SELECT);

	rd->nstock = (int) SPI_processed;
	rd->stock = palloc0(Max(rd->nstock, 1) * sizeof(StockRow));
	for (int i = 0; i < rd->nstock; i++)
	{
		StockRow   *r = &rd->stock[i];
		bool		isnull;

		r->product = SpiText(i, 1);
		r->stock = SpiInt64(i, 2, &isnull);
		if (isnull)
			r->stock = 0;
		r->held = SpiInt64(i, 3, &isnull);
	}
}

/*
 * DecideStock
 *		What each line takes, on the rows LockStock locked: from the
 *		session's hold first, then from stock, up to its quantity; held
 *		units the order does not take go back.  Adds "stock short" to the
 *		review (first, as it is stored) when a line is short, and returns
 *		whether one is.  The lines and rd->stock are both in product id
 *		order.
 */
static bool
DecideStock(SessionEvent *ev, CartRead *rd, OrderDecision *d)
{
	int			n = d->take_stock ? rd->n : 0;
	int			line = 0;
	StringInfoData shortfalls;

	initStringInfo(&shortfalls);
	for (int j = 0; j < rd->nstock; j++)
	{
		StockRow   *r = &rd->stock[j];
		CartLine   *l = NULL;
		int64		quantity = 0;
		int64		from_stock;

		if (line < n && strcmp(rd->lines[line].product, r->product) == 0)
		{
			l = &rd->lines[line++];
			quantity = l->quantity;
		}
		r->from_hold = Min(r->held, quantity);
		from_stock = Min(Max(r->stock, 0), quantity - r->from_hold);
		r->delta = r->held - r->from_hold - from_stock;
		if (l == NULL)
			continue;
		l->taken = r->from_hold + from_stock;
		l->shortfall = l->quantity - l->taken;
		if (l->shortfall > 0)
			appendStringInfo(&shortfalls, "%sproduct %s short by " INT64_FORMAT " of " INT64_FORMAT,
							 shortfalls.len > 0 ? ", " : "", l->product,
							 l->shortfall, l->quantity);
	}
	if (line != n)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("product %s of checkout session \"%s\" changed while its order was written",
						rd->lines[line].product, ev->s.id),
				 errdetail("The product was deleted, or its id changed, after the cart was read."),
				 errhint("Retry the delivery; nothing was changed.")));

	if (shortfalls.len > 0)
	{
		Review		review = {0};

		AddReview(&review,
				  "Restock and ship later, or refund the missing items; the shortfall is recorded on each order item.",
				  psprintf("stock short: %s", shortfalls.data));
		for (int i = 0; i < d->review.n; i++)
			AddReview(&review, d->review.hint[i], d->review.reason[i]);
		d->review = review;
		d->state = ORDER_NEEDS_REVIEW;
		d->reason = JoinReasons(&d->review);
		return true;
	}
	return false;
}

/*
 * OrderChanges
 *		The order's changes for its state: order_created, and
 *		order_needs_review when it needs review.
 */
static Datum
OrderChanges(OrderState state)
{
	Datum		changes[2];
	int			n = 0;

	changes[n++] = CStringGetTextDatum("order_created");
	if (state == ORDER_NEEDS_REVIEW)
		changes[n++] = CStringGetTextDatum("order_needs_review");
	return SpiParamArray(changes, n, TEXTOID);
}

/*
 * WriteOrder
 *		The first write, before any product is locked (STMT_WRITE_ORDER):
 *		the order with the state DecideOrder chose, the extension's lines
 *		(each taking its whole quantity when the order takes stock), the
 *		order's changes, the cart and the session's record.  Returns the new
 *		order's id; sets *new_cart to the user's new active cart, if one was
 *		made, and *change_ids to the changes' ids (for MarkShort).
 */
static char *
WriteOrder(SessionEvent *ev, const LineArrays *lines, OrderDecision *d, char **new_cart,
		   Datum *change_ids)
{
	const ShopBinding *b = ev->b;
	CheckoutSession *s = &ev->s;
	Datum		values[WO_NPARAMS];
	char		nulls[WO_NPARAMS];
	PaymentState payment = s->paid ? PAYMENT_PAID : PAYMENT_UNPAID;
	bool		isnull;

	memset(nulls, ' ', sizeof(nulls));
	values[WO_USER] = CStringGetTextDatum(ev->user_key);
	values[WO_CART] = CStringGetTextDatum(ev->cart_key);
	values[WO_SESSION] = CStringGetTextDatum(s->id);
	values[WO_STATUS_WORD] = CStringGetTextDatum(b->order_word[d->state]);
	values[WO_PAYMENT] = CStringGetTextDatum(payment_state_names[payment]);
	values[WO_PAYMENT_WORD] = CStringGetTextDatum(b->payment_word[payment]);
	values[WO_CURRENCY] = CStringGetTextDatum(s->currency);
	values[WO_SUBTOTAL] = Int64GetDatum(s->amount_subtotal);
	values[WO_TOTAL] = Int64GetDatum(s->amount_total);
	values[WO_PAYMENT_INTENT] = SpiParamText(s->payment_intent, nulls, WO_PAYMENT_INTENT);
	values[WO_EMAIL] = SpiParamText(s->email, nulls, WO_EMAIL);
	values[WO_SHIP_NAME] = SpiParamText(s->ship.name, nulls, WO_SHIP_NAME);
	values[WO_SHIP_LINE1] = SpiParamText(s->ship.line1, nulls, WO_SHIP_LINE1);
	values[WO_SHIP_LINE2] = SpiParamText(s->ship.line2, nulls, WO_SHIP_LINE2);
	values[WO_SHIP_CITY] = SpiParamText(s->ship.city, nulls, WO_SHIP_CITY);
	values[WO_SHIP_STATE] = SpiParamText(s->ship.state, nulls, WO_SHIP_STATE);
	values[WO_SHIP_POSTAL_CODE] = SpiParamText(s->ship.postal_code, nulls, WO_SHIP_POSTAL_CODE);
	values[WO_SHIP_COUNTRY] = SpiParamText(s->ship.country, nulls, WO_SHIP_COUNTRY);
	values[WO_REVIEW_REASON] = SpiParamText(d->reason, nulls, WO_REVIEW_REASON);
	values[WO_PRODUCTS] = lines->products;
	values[WO_QUANTITIES] = lines->quantities;
	values[WO_UNIT_AMOUNTS] = lines->unit_amounts;
	values[WO_TAKEN] = lines->taken;
	values[WO_CHANGES] = OrderChanges(d->state);
	values[WO_EVENT] = SpiParamText(ev->event_id, nulls, WO_EVENT);
	values[WO_CONSUME] = BoolGetDatum(d->take_stock);
	values[WO_CHARGED] = Int64GetDatum(s->amount_charged);

	ShopRun(b, STMT_WRITE_ORDER, values, nulls, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "order of checkout session \"%s\" was not created", s->id);
	*new_cart = SpiText(0, 2);
	if (SpiInt64(0, 3, &isnull) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("checkout session already has an order"),
				 errdetail("Checkout session \"%s\" was fulfilled by another transaction for another cart.", s->id),
				 errhint("Stripe never sends one session for two carts: check what called the fulfilment; nothing was changed.")));
	*change_ids = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull),
							false, -1);
	return SpiText(0, 1);
}

/*
 * WriteLines
 *		The second write, on the products LockStock locked, with what
 *		DecideStock decided (STMT_WRITE_LINES): items, stock, the hold.
 */
static void
WriteLines(SessionEvent *ev, const CartRead *rd, const LineArrays *lines, const char *order_id)
{
	Datum		values[WL_NPARAMS];
	int			ns = Max(rd->nstock, 1);
	Datum	   *stock_products = palloc(ns * sizeof(Datum));
	Datum	   *stock_deltas = palloc(ns * sizeof(Datum));
	Datum	   *hold_products = palloc(ns * sizeof(Datum));
	Datum	   *hold_taken = palloc(ns * sizeof(Datum));
	int			nstock = 0;
	int			nhold = 0;
	int64		settled;
	bool		isnull;

	for (int j = 0; j < rd->nstock; j++)
	{
		StockRow   *r = &rd->stock[j];

		if (r->delta != 0)
		{
			stock_products[nstock] = CStringGetTextDatum(r->product);
			stock_deltas[nstock++] = Int64GetDatum(r->delta);
		}
		if (r->held > 0)
		{
			hold_products[nhold] = CStringGetTextDatum(r->product);
			hold_taken[nhold++] = Int64GetDatum(r->from_hold);
		}
	}

	values[WL_ORDER] = CStringGetTextDatum(order_id);
	values[WL_SESSION] = CStringGetTextDatum(ev->s.id);
	values[WL_PRODUCTS] = lines->products;
	values[WL_QUANTITIES] = lines->quantities;
	values[WL_UNIT_AMOUNTS] = lines->unit_amounts;
	values[WL_LINE_CURRENCIES] = lines->currencies;
	values[WL_TAKEN] = lines->taken;
	values[WL_SHORTFALLS] = lines->shortfalls;
	values[WL_STOCK_PRODUCTS] = SpiParamArray(stock_products, nstock, TEXTOID);
	values[WL_STOCK_DELTAS] = SpiParamArray(stock_deltas, nstock, INT8OID);
	values[WL_HOLD_PRODUCTS] = SpiParamArray(hold_products, nhold, TEXTOID);
	values[WL_HOLD_TAKEN] = SpiParamArray(hold_taken, nhold, INT8OID);
	ShopRun(ev->b, STMT_WRITE_LINES, values, NULL, SPI_OK_SELECT);

	/* the user's lock keeps the hold as LockStock read it; check */
	settled = SpiInt64(0, 1, &isnull);
	if (settled != nhold)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("stock hold of checkout session \"%s\" changed while its order was written",
						ev->s.id),
				 errdetail("%d held products were read, " INT64_FORMAT " were still held.",
						   nhold, settled),
				 errhint("Retry the delivery; nothing was changed.")));
}

/*
 * MarkShort
 *		A new order short of stock (STMT_MARK_SHORT): what WriteOrder wrote
 *		assuming every line took its quantity, corrected: the order's
 *		status and reason (and its session's record), its changes' status
 *		and, unless the money had flagged it already, an order_needs_review
 *		change; its lines' stock taken and shortfall.
 */
static void
MarkShort(SessionEvent *ev, const LineArrays *lines, OrderDecision *d, const char *order_id,
		  Datum change_ids, bool new_to_review)
{
	Datum		values[MS_NPARAMS];
	char		nulls[MS_NPARAMS];

	memset(nulls, ' ', sizeof(nulls));
	values[MS_ORDER] = CStringGetTextDatum(order_id);
	values[MS_SESSION] = CStringGetTextDatum(ev->s.id);
	values[MS_STATUS_WORD] = CStringGetTextDatum(ev->b->order_word[d->state]);
	values[MS_REASON] = CStringGetTextDatum(d->reason);
	values[MS_PRODUCTS] = lines->products;
	values[MS_TAKEN] = lines->taken;
	values[MS_SHORTFALLS] = lines->shortfalls;
	values[MS_CHANGE_IDS] = change_ids;
	values[MS_ADD_REVIEW] = BoolGetDatum(new_to_review);
	values[MS_EVENT] = SpiParamText(ev->event_id, nulls, MS_EVENT);
	ShopRun(ev->b, STMT_MARK_SHORT, values, nulls, SPI_OK_UPDATE);
	if (SPI_processed != 1)
		elog(ERROR, "order %s of checkout session \"%s\" was not found to flag",
			 order_id, ev->s.id);
}

/*
 * FulfilLocked
 *		See fulfil_int.h.
 */
void
FulfilLocked(SessionEvent *ev, SessionOutcome *out)
{
	CheckoutSession *s = &ev->s;
	CartRead	rd;
	OrderDecision d;
	char	   *order_id;
	char	   *new_cart;
	LineArrays	lines;
	Datum		change_ids;
	bool		was_review;

	/* a fulfilment by this very session locked the cart: done already */
	if (ev->cart.consumed_by != NULL && strcmp(ev->cart.consumed_by, s->id) == 0 &&
		(order_id = LookupOrder(ev)) != NULL)
	{
		AlreadyProcessed(ev, order_id, out);
		return;
	}

	ReadCart(ev, &rd);
	if (rd.n == 0)
	{
		if ((order_id = LookupOrder(ev)) != NULL)
		{
			AlreadyProcessed(ev, order_id, out);
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_SW_CART_EMPTY),
				 errmsg("cart has no items"),
				 errdetail("Checkout session \"%s\" names cart %s of user \"%s\", which has no items.",
						   s->id, ev->cart_key, SessionDisplayValue(s->user_id)),
				 errhint("Check that the application creates the Checkout Session from the cart it names; nothing was changed.")));
	}
	if (rd.existing_order != NULL)
	{
		AlreadyProcessed(ev, rd.existing_order, out);
		return;
	}

	DecideOrder(ev, &rd, &d);

	if (s->paid)
		StepLog("payment successful for checkout session %s (cart %s, user %s)",
				s->id, ev->cart_key, SessionDisplayValue(s->user_id));
	else
		StepLog("payment pending for checkout session %s (cart %s, user %s): payment_status is %s",
				s->id, ev->cart_key, SessionDisplayValue(s->user_id), s->payment_status);

	/*
	 * The order first, then the products' locks, held to commit: as little
	 * as can be is written while they are held
	 */
	LineArraysOf(&rd, &lines);
	order_id = WriteOrder(ev, &lines, &d, &new_cart, &change_ids);
	LockStock(ev, &rd, &d, &lines);
	was_review = d.state == ORDER_NEEDS_REVIEW;
	if (DecideStock(ev, &rd, &d))
	{
		LineArraysOf(&rd, &lines);
		MarkShort(ev, &lines, &d, order_id, change_ids, !was_review);
	}
	WriteLines(ev, &rd, &lines, order_id);
	/* refunds or disputes that came before the order (payments.c) */
	PaymentsApplyToNewOrder(ev->b, s->payment_intent, ev->event_id);

	if (d.take_stock)
	{
		if (new_cart == NULL)
			StepLog("cart %s locked for checkout session %s; user %s already has an active cart",
					ev->cart_key, s->id, SessionDisplayValue(s->user_id));
		else
			StepLog("cart %s locked for checkout session %s; new active cart %s for user %s",
					ev->cart_key, s->id, new_cart, SessionDisplayValue(s->user_id));
	}
	StepLog("order %s created with %d items for checkout session %s (status %s, payment %s)",
			order_id, rd.n, s->id, order_state_names[d.state], s->paid ? "paid" : "unpaid");
	for (int i = 0; i < d.review.n; i++)
		ereport(WARNING,
				(errmsg("order %s for checkout session %s needs review", order_id, s->id),
				 errdetail("Reason: %s.", d.review.reason[i]),
				 errhint("%s", d.review.hint[i])));

	out->order_id = order_id;
	out->message = d.review.n > 0 ? "order created, needs review" : "order created";
}
