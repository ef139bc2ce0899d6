/*-------------------------------------------------------------------------
 *
 * shop_keys.c
 *		Values from a Checkout Session as the bound columns take them: ids
 *		checked against the key column's type and put in the canonical text
 *		form its output function prints, and Stripe's currency exponents
 *		for money in major units.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "binding.h"

/*
 * CanonicalInt
 *		A positive decimal without sign within max, printed without leading
 *		zeros; NULL otherwise.
 */
static char *
CanonicalInt(const char *value, int64 max)
{
	int64		result = 0;
	const char *p;

	if (*value == '\0')
		return NULL;
	for (p = value; *p; p++)
	{
		if (*p < '0' || *p > '9' ||
			pg_mul_s64_overflow(result, 10, &result) ||
			pg_add_s64_overflow(result, *p - '0', &result))
			return NULL;
	}
	if (result <= 0 || result > max)
		return NULL;
	return psprintf(INT64_FORMAT, result);
}

/*
 * CanonicalUuid
 *		A uuid as PostgreSQL reads it (32 hex digits, optionally in braces,
 *		optionally with a hyphen after any group of four digits), in its
 *		canonical lower-case form; NULL otherwise.
 */
static char *
CanonicalUuid(const char *value)
{
	const char *p = value;
	char		hex[33];
	int			n = 0;
	bool		braces = (*p == '{');

	if (braces)
		p++;
	while (*p && *p != '}' && n < 32)
	{
		if (isxdigit((unsigned char) *p))
			hex[n++] = (char) tolower((unsigned char) *p);
		else if (*p == '-' && n > 0 && n % 4 == 0 && p[1] != '-')
			;
		else
			return NULL;
		p++;
	}
	if (n != 32 || p[-1] == '-')
		return NULL;
	if (braces)
	{
		if (*p != '}')
			return NULL;
		p++;
	}
	if (*p != '\0')
		return NULL;
	hex[32] = '\0';
	return psprintf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/*
 * ShopKeyCanonical
 *		See binding.h.
 */
char *
ShopKeyCanonical(const BoundColumn *col, const char *value)
{
	switch (col->tc)
	{
		case TC_INT:
			return CanonicalInt(value, col->max);
		case TC_UUID:
			return CanonicalUuid(value);
		default:
			return pstrdup(value);
	}
}

/*
 * CurrencyExponent
 *		See binding.h.  The lists are Stripe's: zero-decimal and
 *		three-decimal currencies ("Supported currencies"); ISK, HUF and TWD
 *		count as two-decimal in Stripe's API (amounts multiples of 100).  The SQL function
 *		stripe_webhook.currency_exponent() calls this one.
 */
int
CurrencyExponent(const char *currency)
{
	static const char *const zero[] = {
		"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf",
		"ugx", "vnd", "vuv", "xaf", "xof", "xpf"
	};
	static const char *const three[] = {"bhd", "jod", "kwd", "omr", "tnd"};

	for (int i = 0; i < lengthof(zero); i++)
		if (pg_strcasecmp(currency, zero[i]) == 0)
			return 0;
	for (int i = 0; i < lengthof(three); i++)
		if (pg_strcasecmp(currency, three[i]) == 0)
			return 3;
	return 2;
}

/* SQL function: currency_exponent(currency text) RETURNS integer */
PG_FUNCTION_INFO_V1(stripe_webhook_currency_exponent);

Datum
stripe_webhook_currency_exponent(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CurrencyExponent(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
