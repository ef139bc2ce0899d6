/*-------------------------------------------------------------------------
 *
 * pgrst_emulate.c
 *		Send PostgreSQL exactly what PostgREST v12 sends for
 *		"POST /rpc/stripe_webhook" with a JSON body and a Stripe-Signature
 *		header, and print the HTTP status PostgREST would answer with.
 *
 * The statements, their order, their parameters (untyped, text format:
 * hasql's "unknown" encoder) and the transaction framing follow
 * ../shared/research/postgrest.md, section 5:
 *
 *	 once per connection:  SET client_encoding = 'UTF8';SET client_min_messages TO WARNING;
 *	 per request:          BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE
 *						   select set_config('search_path', $1, true), ... (7 settings)
 *						   WITH pgrst_source AS (... "api"."stripe_webhook"($1::json) ...) SELECT ...
 *						   COMMIT (or ABORT after an error)
 *
 * The HTTP status is the response_status column when it is set, else 200
 * (the function returns a value); after an error it is PostgREST's SQLSTATE
 * mapping.  PostgREST before v16 re-runs the whole transaction on 40001
 * without limit; this harness retries 3 times and then reports "LOOP", so a
 * test can assert that it never happens.
 *
 * Usage:
 *	 pgrst_emulate [-p] [-s schema] [-r anon_role] [--] CONNINFO REQUEST...
 *
 *	 -p			use prepared statements (PostgREST's default,
 *				db-prepared-statements = true) instead of unnamed ones
 *	 REQUEST	SIGFILE:BODYFILE; SIGFILE holds the Stripe-Signature value,
 *				or is "-" for a request without that header
 *
 * All requests run one after another on one connection, as on a pooled
 * PostgREST connection.  Output: one line per request,
 *	 <http status> <response body>
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libpq-fe.h"

/* The one set_config statement of PostgREST v12 (setPgLocals), no JWT */
static const char *const locals_sql =
"select set_config('search_path', $1, true), set_config('role', $2, true), "
"set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), "
"set_config('request.path', $5, true), set_config('request.headers', $6, true), "
"set_config('request.cookies', $7, true)";

/* The main query (callPlanToQuery + readPlanToQuery); %s is the schema */
static const char *const call_sql_fmt =
"WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT \"%s\".\"stripe_webhook\"($1::json) pgrst_scalar) pgrst_call) "
"SELECT null::bigint AS total_result_set, 1 AS page_total, "
"coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null') AS body, "
"nullif(current_setting('response.headers', true), '') AS response_headers, "
"nullif(current_setting('response.status', true), '') AS response_status, "
"'' AS response_inserted "
"FROM (SELECT \"stripe_webhook\".* FROM \"pgrst_source\" AS \"stripe_webhook\"    ) _postgrest_t";

static int	use_prepared = 0;
static int	locals_prepared = 0;
static int	call_prepared = 0;

/*
 * die
 *		Report a harness failure (not a request failure) and exit 2.
 */
static void
die(const char *what, PGconn *conn)
{
	fprintf(stderr, "pgrst_emulate: %s%s%s\n", what, conn ? ": " : "",
			conn ? PQerrorMessage(conn) : "");
	exit(2);
}

/*
 * read_file
 *		Whole file as a NUL-terminated string (bodies never contain NUL).
 */
static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "pgrst_emulate: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
		die("short read", NULL);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t) n;
	return buf;
}

/*
 * json_escape
 *		s as a JSON string literal (malloc'd), as aeson encodes header values.
 */
static char *
json_escape(const char *s)
{
	size_t		n = strlen(s);
	char	   *out = malloc(n * 6 + 3);
	char	   *p = out;

	if (out == NULL)
		die("out of memory", NULL);
	*p++ = '"';
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			*p++ = '\\';
			*p++ = (char) c;
		}
		else if (c < 0x20)
			p += sprintf(p, "\\u%04x", c);
		else
			*p++ = (char) c;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

/*
 * exec_params
 *		Run a parameterised statement with untyped text parameters, either
 *		unnamed (PQexecParams) or prepared once per connection.
 */
static PGresult *
exec_params(PGconn *conn, const char *name, int *prepared, const char *sql, int n,
			const char *const *values)
{
	if (!use_prepared)
		return PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);
	if (!*prepared)
	{
		/* hasql prepares on first use, inside the request's transaction */
		PGresult   *prep = PQprepare(conn, name, sql, n, NULL);

		if (PQresultStatus(prep) != PGRES_COMMAND_OK)
			return prep;
		PQclear(prep);
		*prepared = 1;
	}
	return PQexecPrepared(conn, name, n, values, NULL, NULL, 0);
}

/*
 * http_status_for
 *		PostgREST v12's HTTP status for an error's SQLSTATE (Error.hs), with
 *		the request running as the anonymous role.
 */
static int
http_status_for(const char *st)
{
	if (strcmp(st, "P0001") == 0)
		return 400;
	if (strncmp(st, "PT", 2) == 0 && isdigit((unsigned char) st[2]))
		return atoi(st + 2);
	if (strcmp(st, "42501") == 0)
		return 401;
	if (strcmp(st, "23505") == 0 || strcmp(st, "23503") == 0)
		return 409;
	if (strcmp(st, "25006") == 0)
		return 405;
	if (strncmp(st, "28", 2) == 0 || strncmp(st, "0L", 2) == 0 || strncmp(st, "0P", 2) == 0)
		return 403;
	if (strcmp(st, "42883") == 0 || strcmp(st, "42P01") == 0)
		return 404;
	if (strcmp(st, "53400") == 0 || strcmp(st, "42P17") == 0)
		return 500;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 || strcmp(st, "57P01") == 0)
		return 503;
	if (strncmp(st, "P0", 2) == 0 || strncmp(st, "XX", 2) == 0 || strncmp(st, "25", 2) == 0 ||
		strncmp(st, "2D", 2) == 0 || strncmp(st, "38", 2) == 0 || strncmp(st, "39", 2) == 0 ||
		strncmp(st, "3B", 2) == 0 || strncmp(st, "40", 2) == 0 || strncmp(st, "54", 2) == 0 ||
		strncmp(st, "55", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "58", 2) == 0 ||
		strncmp(st, "F0", 2) == 0 || strncmp(st, "HV", 2) == 0)
		return 500;
	return 400;
}

/*
 * command
 *		Run a statement without parameters that must succeed.
 */
static void
command(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(sql, conn);
	PQclear(res);
}

/*
 * one_request
 *		One POST /rpc/stripe_webhook; prints "<status> <body>".  Returns 1
 *		if PostgREST would retry it (40001), else 0.
 */
static int
one_request(PGconn *conn, const char *call_sql, const char *anon, const char *schema,
			const char *signature, const char *body, size_t body_len)
{
	char		search_path[256];
	char		claims[256];
	char		content_length[32];
	char	   *headers;
	char	   *sig_json = signature ? json_escape(signature) : NULL;
	const char *locals[7];
	const char *call[1];
	PGresult   *res;
	size_t		hlen;

	snprintf(search_path, sizeof(search_path), "\"%s\", \"public\"", schema);
	snprintf(claims, sizeof(claims), "{\"role\":\"%s\"}", anon);
	snprintf(content_length, sizeof(content_length), "%zu", body_len);

	/* the request headers as PostgREST passes them: lower-case, no cookie */
	hlen = 512 + (sig_json ? strlen(sig_json) : 0);
	headers = malloc(hlen);
	if (headers == NULL)
		die("out of memory", NULL);
	snprintf(headers, hlen,
			 "{\"user-agent\":\"Stripe/1.0 (+https://stripe.com/docs/webhooks)\","
			 "\"content-type\":\"application/json; charset=utf-8\","
			 "\"accept\":\"*/*; q=0.5, application/xml\",\"cache-control\":\"no-cache\","
			 "\"host\":\"localhost:3000\",\"content-length\":\"%s\"%s%s}",
			 content_length, sig_json ? ",\"stripe-signature\":" : "", sig_json ? sig_json : "");

	locals[0] = search_path;
	locals[1] = anon;
	locals[2] = claims;
	locals[3] = "POST";
	locals[4] = "/rpc/stripe_webhook";
	locals[5] = headers;
	locals[6] = "{}";
	call[0] = body;

	command(conn, "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE");

	res = exec_params(conn, "pgrst_locals", &locals_prepared, locals_sql, 7, locals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("set_config statement failed", conn);
	PQclear(res);

	res = exec_params(conn, "pgrst_call", &call_prepared, call_sql, 1, call);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		int			status = 200;

		if (!PQgetisnull(res, 0, 4))
		{
			char	   *end;
			long		s = strtol(PQgetvalue(res, 0, 4), &end, 10);

			/* PGRST112: response.status must be a valid status code */
			status = (*end == '\0' && s >= 100 && s <= 599) ? (int) s : 500;
		}
		printf("%d %s\n", status, PQgetvalue(res, 0, 2));
		PQclear(res);
		command(conn, "COMMIT");
	}
	else
	{
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		char	   *msg_json = json_escape(msg ? msg : "");

		if (st == NULL)
			die("main query failed without a SQLSTATE", conn);
		if (strcmp(st, "40001") == 0)
		{
			PQclear(res);
			command(conn, "ABORT");
			free(msg_json);
			free(headers);
			free(sig_json);
			return 1;
		}
		printf("%d {\"code\":\"%s\",\"message\":%s}\n", http_status_for(st), st, msg_json);
		free(msg_json);
		PQclear(res);
		command(conn, "ABORT");
	}
	free(headers);
	free(sig_json);
	return 0;
}

/*
 * main
 *		Parse options, connect as the authenticator, run each request.
 */
int
main(int argc, char **argv)
{
	const char *schema = "api";
	const char *anon = "web_anon";
	PGconn	   *conn;
	char	   *call_sql;
	int			opt;

	while ((opt = getopt(argc, argv, "ps:r:")) != -1)
	{
		switch (opt)
		{
			case 'p':
				use_prepared = 1;
				break;
			case 's':
				schema = optarg;
				break;
			case 'r':
				anon = optarg;
				break;
			default:
				fprintf(stderr, "usage: pgrst_emulate [-p] [-s schema] [-r anon_role] CONNINFO SIGFILE:BODYFILE...\n");
				return 2;
		}
	}
	if (optind + 2 > argc)
	{
		fprintf(stderr, "usage: pgrst_emulate [-p] [-s schema] [-r anon_role] CONNINFO SIGFILE:BODYFILE...\n");
		return 2;
	}

	conn = PQconnectdb(argv[optind]);
	if (PQstatus(conn) != CONNECTION_OK)
		die("connection failed", conn);
	/* hasql's connection set-up */
	command(conn, "SET client_encoding = 'UTF8';SET client_min_messages TO WARNING;");

	call_sql = malloc(strlen(call_sql_fmt) + strlen(schema) + 1);
	if (call_sql == NULL)
		die("out of memory", NULL);
	sprintf(call_sql, call_sql_fmt, schema);

	for (int i = optind + 1; i < argc; i++)
	{
		char	   *spec = strdup(argv[i]);
		char	   *colon = spec ? strchr(spec, ':') : NULL;
		char	   *signature = NULL;
		char	   *body;
		size_t		body_len;
		int			tries = 0;

		if (colon == NULL)
			die("a request is SIGFILE:BODYFILE", NULL);
		*colon = '\0';
		if (strcmp(spec, "-") != 0)
		{
			size_t		n;

			signature = read_file(spec, &n);
			while (n > 0 && (signature[n - 1] == '\n' || signature[n - 1] == '\r'))
				signature[--n] = '\0';
		}
		body = read_file(colon + 1, &body_len);

		/* PostgREST < v16 re-runs the transaction on 40001 without limit */
		while (one_request(conn, call_sql, anon, schema, signature, body, body_len))
		{
			if (++tries == 3)
			{
				printf("LOOP serialization failure (40001) escaped: PostgREST would retry forever\n");
				break;
			}
		}
		fflush(stdout);
		free(signature);
		free(body);
		free(spec);
	}

	free(call_sql);
	PQfinish(conn);
	return 0;
}
