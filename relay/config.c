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
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
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
	"most client connections (one thread each) at a time; when\n        full, the oldest one still sending its request is cut off"},
	{"max-body", "RELAY_MAX_BODY", "BYTES", OPT_SIZE, FIELD(max_body), 1, 1L << 30, "1m",
	"largest request body (suffix k, m: KiB, MiB); larger: 413"},
	{"timeout", "RELAY_TIMEOUT", "SECONDS", OPT_INT, FIELD(timeout), 1, 3600, "10",
	"close a client connection silent this long"},
	{"pool-wait-ms", "RELAY_POOL_WAIT_MS", "MS", OPT_INT, FIELD(pool_wait_ms), 0, 600000, "2000",
	"longest wait for a free database connection; then 503"},
	{"statement-timeout-ms", "RELAY_STATEMENT_TIMEOUT_MS", "MS", OPT_INT, FIELD(statement_timeout_ms), 0, INT_MAX, "0",
	"statement_timeout for the relay's sessions; 0: keep the role's\n        (sql/relay_role.sql sets 20s); a cancelled call answers 503"},
	{"connect-timeout", "RELAY_CONNECT_TIMEOUT", "SECONDS", OPT_INT, FIELD(connect_timeout), 1, 3600, "5",
	"libpq connect_timeout, unless the conninfo sets one"},
	{"shutdown-timeout", "RELAY_SHUTDOWN_TIMEOUT", "SECONDS", OPT_INT, FIELD(shutdown_timeout), 0, 3600, "30",
	"on SIGTERM/SIGINT, wait this long for requests in flight,\n        then cancel their statements (they answer 503)"},
	{"header-timeout", "RELAY_HEADER_TIMEOUT", "SECONDS", OPT_INT, FIELD(header_timeout), 1, 3600, "10",
	"request line and headers must arrive within this many seconds\n        of the connection (or of the previous answer on it)"},
	{"request-timeout", "RELAY_REQUEST_TIMEOUT", "SECONDS", OPT_INT, FIELD(request_timeout), 1, 3600, "30",
	"the whole request, body included, must arrive within this\n        many seconds of the connection (or of the previous answer)"},
	{"max-connections-per-ip", "RELAY_MAX_CONNECTIONS_PER_IP", "N", OPT_INT, FIELD(max_per_ip), 0, 10000, "64",
	"most connections from one client address; 0: no limit.\n        Behind a reverse proxy all come from the proxy's address"},
	{"max-body-total", "RELAY_MAX_BODY_TOTAL", "BYTES", OPT_SIZE, FIELD(max_body_total), 1, 1L << 34, "16m",
	"bodies held at once over all connections (k, m suffixes);\n        a body that does not fit: 503 with Retry-After"},
	{"allow-from", "RELAY_ALLOW_FROM", "CIDR,...", OPT_STRING, FIELD(allow_from), 0, 0, "",
	"accept connections only from these networks (IPv4/IPv6\n        CIDR, comma or space separated); empty: from anywhere"},
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
			"event id, latency); never the body, the signature or a secret.\n"
			"Lines about refused or cut-off requests and connections: at most one\n"
			"per reason per second, the rest counted (\"N similar lines suppressed\").\n");
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
 * ParseAllowFrom
 *		Parse the comma- or space-separated CIDR list cfg->allow_from into
 *		cfg->nets; a bare address is a /32 or /128.
 */
static void
ParseAllowFrom(RelayConfig *cfg)
{
	const char *p = cfg->allow_from;
	size_t		n = strlen(p) / 2 + 1;

	cfg->nets = calloc(n, sizeof(RelayNet));
	cfg->nnets = 0;
	if (cfg->nets == NULL)
		Die("--allow-from", "", "out of memory");
	while (*p != '\0')
	{
		char		item[128];
		char	   *slash;
		size_t		len = strcspn(p, ", \t\n");
		RelayNet   *net = &cfg->nets[cfg->nnets];
		int			maxbits;

		if (len == 0)
		{
			p++;
			continue;
		}
		if (len >= sizeof(item))
			Die("--allow-from entry", p, "too long");
		memcpy(item, p, len);
		item[len] = '\0';
		p += len;
		slash = strchr(item, '/');
		if (slash != NULL)
			*slash++ = '\0';
		if (inet_pton(AF_INET, item, net->addr) == 1)
			net->family = AF_INET, maxbits = 32;
		else if (inet_pton(AF_INET6, item, net->addr) == 1)
			net->family = AF_INET6, maxbits = 128;
		else
			Die("--allow-from address", item, "not an IPv4 or IPv6 address");
		net->prefix = maxbits;
		if (slash != NULL)
		{
			char	   *end;
			long		bits = strtol(slash, &end, 10);

			if (*slash == '\0' || *end != '\0' || bits < 0 || bits > maxbits)
				Die("--allow-from prefix length", slash, "out of range");
			net->prefix = (int) bits;
		}
		cfg->nnets++;
	}
}

/*
 * PrefixMatches
 *		True if the first bits of a and b are equal.
 */
static bool
PrefixMatches(const uint8_t *a, const uint8_t *b, int bits)
{
	int			full = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xFF << (8 - rest))) == 0;
}

/*
 * ConfigAllows
 *		True if addr is inside one of the --allow-from networks, or the list
 *		is empty.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d, an IPv4
 *		client of an IPv6 socket) is matched as the IPv4 address.
 */
bool
ConfigAllows(const RelayConfig *cfg, const struct sockaddr *addr)
{
	uint8_t		bytes[16];
	int			family = addr->sa_family;
	int			i;

	if (cfg->nnets == 0)
		return true;
	if (family == AF_INET)
		memcpy(bytes, &((const struct sockaddr_in *) addr)->sin_addr, 4);
	else if (family == AF_INET6)
	{
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *) addr)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
		{
			family = AF_INET;
			memcpy(bytes, &a6->s6_addr[12], 4);
		}
		else
			memcpy(bytes, a6->s6_addr, 16);
	}
	else
		return false;
	for (i = 0; i < cfg->nnets; i++)
		if (cfg->nets[i].family == family &&
			PrefixMatches(bytes, cfg->nets[i].addr, cfg->nets[i].prefix))
			return true;
	return false;
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
	ParseAllowFrom(cfg);

	/* bodies over 64 KiB may use 3/4 of the budget: one must fit */
	if (cfg->max_body > 64 * 1024 && cfg->max_body + 1 > cfg->max_body_total - cfg->max_body_total / 4)
	{
		snprintf(source, sizeof(source), "%zu", cfg->max_body_total);
		Die("--max-body-total", source, "too small: three quarters of it must hold one body of --max-body");
	}
}
