/*-------------------------------------------------------------------------
 *
 * test_retryable.c
 *		Plain-C unit test of src/retryable.h, the one list of retryable
 *		SQLSTATEs shared by the webhook handler and the relay.  Prints TAP.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "retryable.h"

static int	n = 0;
static int	failed = 0;

/*
 * Check
 *		One TAP line: sqlstate is (or is not) retryable, as expected.
 */
static void
Check(const char *sqlstate, bool expected, const char *what)
{
	bool		got = SqlstateIsRetryable(sqlstate);

	n++;
	if (got != expected)
		failed++;
	printf("%sok %d - %s %s %s\n", got == expected ? "" : "not ", n,
		   sqlstate ? sqlstate : "NULL", expected ? "retryable:" : "not retryable:", what);
}

/*
 * main
 *		Every class of the list, its neighbours, and malformed input.
 */
int
main(void)
{
	Check("40001", true, "serialization failure");
	Check("40P01", true, "deadlock");
	Check("53100", true, "disk full");
	Check("53300", true, "too many connections");
	Check("55P03", true, "lock not available (lock_timeout)");
	Check("SW402", true, "shop binding no longer matches (retry after rebinding)");
	Check("SW401", false, "shop binding invalid (bind_shop only)");
	Check("57014", true, "query canceled (statement_timeout)");
	Check("57P01", true, "admin shutdown");
	Check("08006", true, "connection failure");
	Check("55000", false, "object not in prerequisite state (only 55P03 of class 55)");
	Check("55006", false, "object in use");
	Check("23505", false, "unique violation");
	Check("22P02", false, "invalid text representation");
	Check("42501", false, "insufficient privilege");
	Check("42883", false, "undefined function");
	Check("XX000", false, "internal error");
	Check("SW203", false, "the extension's own class");
	Check("4000", false, "too short");
	Check("400011", false, "too long");
	Check("", false, "empty");
	Check(NULL, false, "no SQLSTATE");
	printf("1..%d\n", n);
	return failed != 0;
}
