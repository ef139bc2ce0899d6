/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *		Prepare-and-keep, run and read helpers shared by every SPI user
 *		(see spi_util.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "spi_util.h"

/*
 * KeepPlan
 *		Return the plan cached in *cache, preparing and keeping it on first
 *		use.  Kept plans survive the transaction; the plan cache revalidates
 *		them when the tables they read change.
 */
SPIPlanPtr
KeepPlan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * ForgetPlan
 *		Free a kept plan and reset the cache slot.
 */
void
ForgetPlan(SPIPlanPtr *cache)
{
	if (*cache != NULL)
	{
		SPIPlanPtr	plan = *cache;

		*cache = NULL;
		SPI_freeplan(plan);
	}
}

/*
 * RunPlan
 *		Execute a plan (read-write, a fresh snapshot per statement) and
 *		insist on the expected SPI_OK_* code.
 */
void
RunPlan(SPIPlanPtr plan, const Datum *values, const char *nulls, int expected,
		const char *what)
{
	int			rc = SPI_execute_plan(plan, (Datum *) values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan failed for %s: %s", what,
			 SPI_result_code_string(rc));
}

/*
 * SpiParamText
 *		See spi_util.h.
 */
Datum
SpiParamText(const char *s, char *nulls, int i)
{
	if (s == NULL)
	{
		nulls[i] = 'n';
		return (Datum) 0;
	}
	return CStringGetTextDatum(s);
}

/*
 * SpiParamArray
 *		See spi_util.h.
 */
Datum
SpiParamArray(Datum *elems, int n, Oid elemtype)
{
	return PointerGetDatum(construct_array_builtin(elems, n, elemtype));
}

/*
 * SpiParamTextArray
 *		See spi_util.h.
 */
Datum
SpiParamTextArray(char **items, int n)
{
	Datum	   *d = palloc(Max(n, 1) * sizeof(Datum));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return SpiParamArray(d, n, TEXTOID);
}

/*
 * SpiText
 *		Column fnumber of row of SPI_tuptable in its text form (palloc'd),
 *		or NULL.
 */
char *
SpiText(int row, int fnumber)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, fnumber);
}

/*
 * SpiInt64
 *		Column fnumber of row of SPI_tuptable, an int2, int4 or int8, as int64.
 */
int64
SpiInt64(int row, int fnumber, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  fnumber, isnull);

	if (*isnull)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, fnumber))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		default:
			elog(ERROR, "column %d is not an integer", fnumber);
	}
	return 0;					/* keep compiler quiet */
}

/*
 * SpiBool
 *		Column fnumber of row of SPI_tuptable, a boolean; NULL is false.
 */
bool
SpiBool(int row, int fnumber)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  fnumber, &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * SpiCopyOut
 *		A copy of s allocated with SPI_palloc, in the memory context that was
 *		current at SPI_connect: results the caller uses after SPI_finish.
 */
char *
SpiCopyOut(const char *s)
{
	size_t		len = strlen(s) + 1;
	char	   *copy = SPI_palloc(len);

	memcpy(copy, s, len);
	return copy;
}

/*
 * SpiConnect
 *		SPI_connect, raising on failure.
 */
void
SpiConnect(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/*
 * SpiFinish
 *		SPI_finish, raising on failure.
 */
void
SpiFinish(void)
{
	int			rc = SPI_finish();

	if (rc != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));
}
