/*-------------------------------------------------------------------------
 *
 * restock.c
 *		stripe_webhook.restock_order(order_id): staff give back to stock
 *		what an order still holds.  A refund never does that by itself.
 *
 * The whole order, once: every line's stock_taken goes back to its product
 * and then to 0, as a cancellation does (the same generated stock step),
 * but the order keeps its status.  Locks, in the fulfilment's order: the
 * order's user, the order (with its session's row), its products in
 * ascending id order.  Only the extension's owner or a superuser may call
 * it.  Errors (unknown order, nothing left to return) are raised before
 * anything is written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "binding.h"
#include "errcodes.h"
#include "fulfil_int.h"
#include "session.h"
#include "shop_sql.h"
#include "spi_util.h"
#include "stripe_webhook.h"

static SPIPlanPtr owner_plan = NULL;
static SPIPlanPtr find_plan = NULL;
static SPIPlanPtr held_plan = NULL;

/*
 * CheckOwner
 *		42501 unless the caller is the extension's owner or a superuser
 *		(as bind_shop checks).
 */
static void
CheckOwner(void)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];

	KeepPlan(&owner_plan,
			 "SELECT e.extowner = $1 OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = $1),"
			 "       pg_catalog.pg_get_userbyid(e.extowner)"
			 "  FROM pg_catalog.pg_extension e WHERE e.extname = 'stripe_webhook'",
			 1, types);
	values[0] = ObjectIdGetDatum(GetUserId());
	RunPlan(owner_plan, values, NULL, SPI_OK_SELECT, "checking the caller");
	if (SPI_processed != 1 || !SpiBool(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to restock an order"),
				 errdetail("Role \"%s\" is neither the owner of the extension stripe_webhook (\"%s\") nor a superuser.",
						   GetUserNameFromId(GetUserId(), false),
						   SPI_processed == 1 ? SpiText(0, 2) : "?"),
				 errhint("Run restock_order() as the extension owner.")));
}

/*
 * OrderNotFound
 *		SW601.
 */
pg_noreturn static void
OrderNotFound(const ShopBinding *b, const char *order_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_SW_ORDER_NOT_FOUND),
			 errmsg("order does not exist"),
			 errdetail("No order \"%s\" of %s was created by the fulfilment.",
					   SessionDisplayValue(order_id), b->table_name[ROLE_ORDERS]),
			 errhint("Pass the order's id as text, as the orders table prints it; nothing was changed.")));
}

/* SQL function: restock_order(order_id text) RETURNS bigint */
PG_FUNCTION_INFO_V1(stripe_restock_order);

Datum
stripe_restock_order(PG_FUNCTION_ARGS)
{
	char	   *arg = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const ShopBinding *b;
	char	   *order_id;
	char	   *session;
	Datum		values[2];
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		one[1];
	bool		isnull;
	int64		units;

	SpiConnect();
	CheckOwner();
	b = ShopBindingAcquire();
	order_id = ShopKeyCanonical(&b->field[F_ORDER_ID], arg);
	if (order_id == NULL)
		OrderNotFound(b, arg);

	/* the order's session and user; then the user's lock */
	KeepPlan(&find_plan,
			 "SELECT s.id, s.user_id FROM stripe_webhook.checkout_sessions s"
			 " WHERE s.order_table = $1 AND s.order_id = $2",
			 2, types);
	values[0] = CStringGetTextDatum(b->table[ROLE_ORDERS]);
	values[1] = CStringGetTextDatum(order_id);
	RunPlan(find_plan, values, NULL, SPI_OK_SELECT, "finding an order");
	if (SPI_processed == 0)
		OrderNotFound(b, arg);
	session = SpiText(0, 1);
	LockUser(SpiText(0, 2));

	/* the order and its session's row, then its products in id order */
	one[0] = CStringGetTextDatum(session);
	ShopRun(b, STMT_LOCK_ORDER, one, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		OrderNotFound(b, arg);
	one[0] = CStringGetTextDatum(order_id);
	ShopRun(b, STMT_LOCK_PRODUCTS, one, NULL, SPI_OK_SELECT);

	KeepPlan(&held_plan,
			 "SELECT COALESCE(pg_catalog.sum(l.stock_taken), 0)::int8 FROM stripe_webhook.order_lines l"
			 " WHERE l.order_table = $1 AND l.order_id = $2",
			 2, types);
	RunPlan(held_plan, values, NULL, SPI_OK_SELECT, "reading an order's stock");
	units = SpiInt64(0, 1, &isnull);
	if (units == 0)
		ereport(ERROR,
				(errcode(ERRCODE_SW_NOTHING_TO_RESTOCK),
				 errmsg("order holds no stock"),
				 errdetail("Order \"%s\" of %s holds nothing: it was restocked or cancelled already, or no stock was taken for it.",
						   order_id, b->table_name[ROLE_ORDERS]),
				 errhint("Nothing was changed.")));

	ShopRun(b, STMT_RESTOCK, one, NULL, SPI_OK_SELECT);
	StepLog("order %s restocked: " INT64_FORMAT " units returned", order_id, units);
	SpiFinish();
	PG_RETURN_INT64(units);
}
