#!/usr/bin/env bash
# test/e2e/81_faults.t: faults in the middle of a storm through the relay,
# on a cluster of its own: kill -9 of backends running the webhook, an
# immediate PostgreSQL restart, the relay killed and restarted, lock and
# statement timeouts hit while another session holds product locks.  After
# each, every delivery without a 2xx is re-sent (as Stripe does) and the
# invariant checker must find zero violations.  300 carts per scenario.
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$SW_ROOT/test/storm/faults.sh" --sessions 300 --tap
