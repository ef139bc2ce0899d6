/*-------------------------------------------------------------------------
 *
 * spi_util.h
 *		The one place where SPI plans are prepared, kept and run.
 *
 * Every statement the extension runs more than once is prepared once per
 * backend with SPI_prepare_cursor(CURSOR_OPT_GENERIC_PLAN), kept with
 * SPI_keepplan and run with SPI_execute_plan, insisting on one SPI_OK_*
 * code.  Statements are key lookups or set-based writes whose best plan does
 * not depend on the parameter values, so the generic plan is used from the
 * first call on instead of five custom plans first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRIPE_WEBHOOK_SPI_UTIL_H
#define STRIPE_WEBHOOK_SPI_UTIL_H

#include "executor/spi.h"

/* the plan cached in *cache, prepared and kept on first use */
extern SPIPlanPtr KeepPlan(SPIPlanPtr *cache, const char *sql, int nargs,
						   const Oid *argtypes);

/* free a kept plan (if any) and forget it */
extern void ForgetPlan(SPIPlanPtr *cache);

/* run a plan read-write and insist on the expected SPI_OK_* code */
extern void RunPlan(SPIPlanPtr plan, const Datum *values, const char *nulls,
					int expected, const char *what);

/* a text parameter of s; when s is NULL, (Datum) 0 and nulls[i] = 'n' */
extern Datum SpiParamText(const char *s, char *nulls, int i);

/* an array parameter of n elements of type elemtype (n may be 0) */
extern Datum SpiParamArray(Datum *elems, int n, Oid elemtype);

/* a text[] parameter of n C strings */
extern Datum SpiParamTextArray(char **items, int n);

/* column fnumber of result row as a palloc'd C string (text output), or NULL */
extern char *SpiText(int row, int fnumber);

/* column fnumber of result row as an int64 (any integer type), *isnull set */
extern int64 SpiInt64(int row, int fnumber, bool *isnull);

/* column fnumber of result row as a bool; NULL reads as false */
extern bool SpiBool(int row, int fnumber);

/* a copy of s in the caller's memory context (outlives SPI_finish) */
extern char *SpiCopyOut(const char *s);

/* SPI_connect / SPI_finish, raising on failure */
extern void SpiConnect(void);
extern void SpiFinish(void);

#endif							/* STRIPE_WEBHOOK_SPI_UTIL_H */
