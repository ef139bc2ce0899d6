#!/usr/bin/env bash
# test/e2e/80_storm_django.t: the storm of 80_storm.t (1000 carts through
# stripe-webhook-relay, then the invariant checkers and their corruptions)
# against the Django-shaped test shop bound (test/lib/shops/django.sql),
# the checkers reading the shop's tables through its compatibility views.
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SW_STORM_BINDING=django exec "$SW_ROOT/test/storm/run.sh" --sessions 1000 --tap --running-cluster
