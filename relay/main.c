/*-------------------------------------------------------------------------
 *
 * main.c
 *		stripe-webhook-relay: a small HTTP server that hands Stripe webhook
 *		deliveries to stripe_webhook.stripe_handle_webhook() in PostgreSQL
 *		and answers with the status the database decides.
 *
 * The main thread loads the settings, opens the connection pool, starts the
 * HTTP server (a thread per client connection, watched by the connection
 * guard) and then only waits for SIGTERM or SIGINT.  The
 * signals are blocked in every thread and taken with sigwait(), so there is
 * no asynchronous signal handler.  Shutdown: stop accepting, let in-flight
 * requests finish (after shutdown_timeout their queries are cancelled and
 * they answer 503), close every connection, exit 0.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "pool.h"

/*
 * main
 *		Run the relay until SIGTERM/SIGINT; see the file header.
 */
int
main(int argc, char **argv)
{
	RelayConfig cfg;
	Pool	   *pool;
	sigset_t	sigs;
	int			sig = 0;

	ConfigLoad(&cfg, argc, argv);

	/* Block the stop signals before any thread exists: all inherit it */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pool = PoolCreate(&cfg);
	if (!HttpStart(&cfg, pool))
	{
		LogLine("could not listen on %s", cfg.listen);
		PoolDestroy(pool);
		return 1;
	}
	LogLine("listening on %s (pool %d, max connections %d, %d per address, max body %zu bytes, "
			"bodies in flight %zu bytes, timeout %ds, header timeout %ds, request timeout %ds%s%s)",
			cfg.listen, cfg.pool_size, cfg.max_connections, cfg.max_per_ip, cfg.max_body,
			cfg.max_body_total, cfg.timeout, cfg.header_timeout, cfg.request_timeout,
			cfg.nnets > 0 ? ", allow from " : "", cfg.nnets > 0 ? cfg.allow_from : "");

	while (sigwait(&sigs, &sig) != 0)
		;
	LogLine("%s received: no new connections, finishing requests in flight",
			sig == SIGTERM ? "SIGTERM" : "SIGINT");
	HttpQuiesce();
	if (!HttpWaitIdle(cfg.shutdown_timeout))
	{
		LogLine("requests still running after %ds: cancelling their statements",
				cfg.shutdown_timeout);
		PoolCancelBusy(pool);
		HttpWaitIdle(5);
	}
	HttpStop();
	PoolDestroy(pool);
	LogLine("stopped");
	return 0;
}
