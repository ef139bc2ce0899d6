/*-------------------------------------------------------------------------
 *
 * bench_cpu.c
 *		bench.cpu_ns(): CPU time of the calling backend, for bench/verify.
 *
 * Wall-clock timings on a shared machine count the time a backend waits
 * for a CPU; CPU time does not.  Not part of the extension.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"

PG_MODULE_MAGIC;

/* SQL function: bench_cpu_ns */
PG_FUNCTION_INFO_V1(bench_cpu_ns);

/*
 * bench_cpu_ns
 *		clock_gettime(CLOCK_THREAD_CPUTIME_ID) in nanoseconds.
 */
Datum
bench_cpu_ns(PG_FUNCTION_ARGS)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		elog(ERROR, "clock_gettime failed: %m");
	PG_RETURN_FLOAT8((double) ts.tv_sec * 1e9 + (double) ts.tv_nsec);
}
