/*-------------------------------------------------------------------------
 *
 * config.c
 *		Settings of stripe-webhook-relay.
 *
 * Every setting has a default, an environment variable and a flag; a flag
 * overrides the environment, which overrides the default.  One table below
 * drives parsing and --help, so the three can never disagree.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#ifndef RELAY_VERSION
#define RELAY_VERSION "0.2.0"
#endif

typedef enum OptKind
{
	OPT_STRING,					/* const char * */
	OPT_INT,					/* int, within [min, max] */
	OPT_SIZE					/* size_t, bytes; k/m suffixes allowed */
} OptKind;

typedef struct OptDef
{
	const char *flag;			/* long option, without "--" */
	const char *env;			/* environment variable */
	const char *arg;			/* argument name for --help */
	OptKind		kind;
	size_t		offset;			/* field in RelayConfig */
	long		min;
	long		max;
	const char *def;			/* default, as text */
	const char *help;
} OptDef;

#define FIELD(f) offsetof(RelayConfig, f)

static const OptDef opts[] = {
	{"database-url", "DATABASE_URL", "CONNINFO", OPT_STRING, FIELD(database_url), 0, 0, "",
	"libpq connection string or URI; empty: PG* variables, libpq defaults"},
	{"listen", "LISTEN_ADDR", "HOST:PORT", OPT_STRING, FIELD(listen), 0, 0, "127.0.0.1:8000",
	"address to listen on; IPv6 as [::1]:8000"},
	{"pool-size", "RELAY_POOL_SIZE", "N", OPT_INT, FIELD(pool_size), 1, 1000, "4",
	"database connections, opened at start and kept"},
	{"max-connections", "RELAY_MAX_CONNECTIONS", "N", OPT_INT, FIELD(max_connections), 1, 10000, "256",
	"most client connections (one thread each) at a time"},
	{"max-body", "RELAY_MAX_BODY", "BYTES", OPT_SIZE, FIELD(max_body), 1, 1L << 30, "1m",
	"largest request body (suffix k, m: KiB, MiB); larger: 413"},
	{"timeout", "RELAY_TIMEOUT", "SECONDS", OPT_INT, FIELD(timeout), 1, 3600, "10",
	"close a client idle this long; a body must arrive within it too"},
	{"pool-wait-ms", "RELAY_POOL_WAIT_MS", "MS", OPT_INT, FIELD(pool_wait_ms), 0, 600000, "2000",
	"longest wait for a free database connection; then 503"},
	{"statement-timeout-ms", "RELAY_STATEMENT_TIMEOUT_MS", "MS", OPT_INT, FIELD(statement_timeout_ms), 0, INT_MAX, "0",
	"statement_timeout for the relay's sessions; 0: keep the role's\n        (sql/relay_role.sql sets 20s); a cancelled call answers 503"},
	{"connect-timeout", "RELAY_CONNECT_TIMEOUT", "SECONDS", OPT_INT, FIELD(connect_timeout), 1, 3600, "5",
	"libpq connect_timeout, unless the conninfo sets one"},
	{"shutdown-timeout", "RELAY_SHUTDOWN_TIMEOUT", "SECONDS", OPT_INT, FIELD(shutdown_timeout), 0, 3600, "30",
	"on SIGTERM/SIGINT, wait this long for requests in flight,\n        then cancel their statements (they answer 503)"},
};

#define NOPTS ((int) (sizeof(opts) / sizeof(opts[0])))

/*
 * Usage
 *		Print --help: every flag with its variable, default and meaning.
 */
static void
Usage(FILE *out)
{
	int			i;

	fprintf(out,
			"stripe-webhook-relay: hands Stripe webhooks to PostgreSQL.\n\n"
			"Usage: stripe-webhook-relay [OPTION]...\n\n"
			"POST /api/payments/stripe_webhook/ passes the raw body and the\n"
			"Stripe-Signature header to stripe_webhook.stripe_handle_webhook() and\n"
			"answers with the status and JSON it returns.  GET /healthz: 200 when\n"
			"the database answers, else 503.\n\n"
			"Options (each also read from the environment variable shown; a flag wins):\n");
	for (i = 0; i < NOPTS; i++)
	{
		fprintf(out, "  --%s=%s\n", opts[i].flag, opts[i].arg);
		fprintf(out, "        %s\n", opts[i].help);
		fprintf(out, "        env %s, default \"%s\"\n", opts[i].env, opts[i].def);
	}
	fprintf(out,
			"  --help      show this help and exit\n"
			"  --version   show the version and exit\n\n"
			"Signals: SIGTERM or SIGINT stop accepting connections, finish the\n"
			"requests in flight, close the database connections and exit 0.\n"
			"Log: one line per request on stderr (time, method, path, status,\n"
			"event id, latency); never the body, the signature or a secret.\n");
}

/*
 * Die
 *		Report a configuration error and exit with status 2.
 */
static void
Die(const char *what, const char *value, const char *why)
{
	fprintf(stderr, "stripe-webhook-relay: invalid %s \"%s\": %s\n"
			"Try \"stripe-webhook-relay --help\".\n", what, value, why);
	exit(2);
}

/*
 * ParseListen
 *		Resolve HOST:PORT (or [IPV6]:PORT) into cfg->listen_addr.
 */
static void
ParseListen(RelayConfig *cfg, const char *text)
{
	char		host[256];
	const char *colon = strrchr(text, ':');
	const char *port;
	size_t		hlen;
	struct addrinfo hints,
			   *res;
	int			rc;

	if (colon == NULL || colon[1] == '\0')
		Die("listen address", text, "expected HOST:PORT");
	port = colon + 1;
	hlen = colon - text;
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']')
	{
		text++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		Die("listen address", cfg->listen, "expected HOST:PORT");
	memcpy(host, text, hlen);
	host[hlen] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		Die("listen address", cfg->listen, gai_strerror(rc));
	memcpy(&cfg->listen_addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
}

/*
 * SetOption
 *		Store one textual value into the field opts[i] describes.
 */
static void
SetOption(RelayConfig *cfg, int i, const char *value, const char *source)
{
	const OptDef *o = &opts[i];
	char	   *field = (char *) cfg + o->offset;
	char	   *end;
	long long	n;

	if (o->kind == OPT_STRING)
	{
		*(const char **) field = value;
		return;
	}
	errno = 0;
	n = strtoll(value, &end, 10);
	if (end == value || errno != 0)
		Die(source, value, "not a number");
	if (o->kind == OPT_SIZE && (*end == 'k' || *end == 'K'))
		n *= 1024, end++;
	else if (o->kind == OPT_SIZE && (*end == 'm' || *end == 'M'))
		n *= 1024 * 1024, end++;
	if (*end != '\0')
		Die(source, value, "not a number");
	if (n < o->min || n > o->max)
		Die(source, value, "out of range");
	if (o->kind == OPT_SIZE)
		*(size_t *) field = (size_t) n;
	else
		*(int *) field = (int) n;
}

/*
 * ConfigLoad
 *		Defaults, then the environment, then the flags; resolve the listen
 *		address.  Exits 0 after --help/--version, 2 on invalid input.
 */
void
ConfigLoad(RelayConfig *cfg, int argc, char **argv)
{
	struct option longopts[NOPTS + 3];
	char		source[64];
	int			i,
				c,
				idx;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NOPTS; i++)
		SetOption(cfg, i, opts[i].def, "default");
	for (i = 0; i < NOPTS; i++)
	{
		const char *v = getenv(opts[i].env);

		if (v != NULL)
			SetOption(cfg, i, v, opts[i].env);
	}

	for (i = 0; i < NOPTS; i++)
	{
		longopts[i].name = opts[i].flag;
		longopts[i].has_arg = required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 1000 + i;
	}
	longopts[NOPTS] = (struct option) {"help", no_argument, NULL, 'h'};
	longopts[NOPTS + 1] = (struct option) {"version", no_argument, NULL, 'V'};
	longopts[NOPTS + 2] = (struct option) {NULL, 0, NULL, 0};

	while ((c = getopt_long(argc, argv, "hV", longopts, &idx)) != -1)
	{
		if (c == 'h')
		{
			Usage(stdout);
			exit(0);
		}
		if (c == 'V')
		{
			printf("stripe-webhook-relay %s\n", RELAY_VERSION);
			exit(0);
		}
		if (c < 1000 || c >= 1000 + NOPTS)
		{
			fprintf(stderr, "Try \"stripe-webhook-relay --help\".\n");
			exit(2);
		}
		snprintf(source, sizeof(source), "--%s", opts[c - 1000].flag);
		SetOption(cfg, c - 1000, optarg, source);
	}
	if (optind < argc)
		Die("argument", argv[optind], "no positional arguments are taken");

	ParseListen(cfg, cfg->listen);
}
