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

#include <stddef.h>
#include <sys/socket.h>

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
} RelayConfig;

/* Fill *cfg from defaults, the environment and argv; exits on bad input */
extern void ConfigLoad(RelayConfig *cfg, int argc, char **argv);

#endif							/* RELAY_CONFIG_H */
