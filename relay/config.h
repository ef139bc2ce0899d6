/*-------------------------------------------------------------------------
 *
 * config.h
 *		Settings of stripe-webhook-relay: defaults, environment variables
 *		and command-line flags (flags win over the environment).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One network of --allow-from: an IPv4 or IPv6 prefix */
typedef struct RelayNet
{
	int			family;			/* AF_INET or AF_INET6 */
	uint8_t		addr[16];		/* network address, 4 or 16 bytes used */
	int			prefix;			/* prefix length in bits */
} RelayNet;

typedef struct RelayConfig
{
	const char *database_url;	/* libpq conninfo or URI; "" = PG* defaults */
	const char *listen;			/* HOST:PORT as given, for messages */
	struct sockaddr_storage listen_addr;	/* resolved listen address */
	int			pool_size;		/* database connections */
	int			max_connections;	/* client connections (threads) at most */
	size_t		max_body;		/* largest accepted request body, bytes */
	int			timeout;		/* client inactivity / body deadline, s */
	int			pool_wait_ms;	/* longest wait for a free connection */
	int			statement_timeout_ms;	/* per statement in the database */
	int			connect_timeout;	/* libpq connect_timeout, s */
	int			shutdown_timeout;	/* longest wait for in-flight requests, s */
	int			header_timeout;	/* request line + headers within, s */
	int			request_timeout;	/* whole request (+ body) within, s */
	int			max_per_ip;		/* connections per client address; 0: any */
	size_t		max_body_total; /* bodies held at once, all connections */
	const char *allow_from;		/* CIDR list as given; "" = everyone */
	RelayNet   *nets;			/* allow_from parsed */
	int			nnets;
} RelayConfig;

/* True if the client address is in --allow-from (or the list is empty) */
extern bool ConfigAllows(const RelayConfig *cfg, const struct sockaddr *addr);

/* Fill *cfg from defaults, the environment and argv; exits on bad input */
extern void ConfigLoad(RelayConfig *cfg, int argc, char **argv);

#endif							/* RELAY_CONFIG_H */
