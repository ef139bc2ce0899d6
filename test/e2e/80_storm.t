#!/usr/bin/env bash
# test/e2e/80_storm.t: the storm test, small: 1000 carts (1020 paid
# sessions and 228 refund and dispute events, 3744 deliveries) through
# stripe-webhook-relay from 32
# connections, on the runner's cluster (a fresh database, dropped after),
# then the invariant checker must find zero violations (and must catch a
# list of deliberate corruptions).  The big configuration is the README
# command ./test/storm/run.sh --sessions 5000.
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$SW_ROOT/test/storm/run.sh" --sessions 1000 --tap --running-cluster
