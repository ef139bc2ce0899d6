/*-------------------------------------------------------------------------
 *
 * probe.c
 *		Two deliberately broken SQL functions that prove the sanitizer run
 *		(test/sanitize/run.sh) can see what it looks for: built with the
 *		same flags as the extension, loaded into the same cluster, called
 *		last.  Test-only; never installed anywhere else.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(sanitizer_probe_asan);
PG_FUNCTION_INFO_V1(sanitizer_probe_ubsan);

/*
 * sanitizer_probe_asan
 *		Write one byte past a stack array (index = argument, 8 overflows).
 */
Datum
sanitizer_probe_asan(PG_FUNCTION_ARGS)
{
	char		buf[8];
	char	   *volatile p = buf;	/* hidden from UBSan's bounds check */
	int			i = PG_GETARG_INT32(0);

	memset(buf, 0, sizeof(buf));
	p[i] = 1;
	PG_RETURN_INT32(p[i]);
}

/*
 * sanitizer_probe_ubsan
 *		Signed addition that overflows for 2147483647.
 */
Datum
sanitizer_probe_ubsan(PG_FUNCTION_ARGS)
{
	volatile int32 a = PG_GETARG_INT32(0);

	PG_RETURN_INT32(a + 1);
}
