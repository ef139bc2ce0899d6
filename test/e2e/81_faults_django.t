#!/usr/bin/env bash
# test/e2e/81_faults_django.t: the faults of 81_faults.t against the
# Django-shaped test shop bound (test/lib/shops/django.sql), the checkers
# reading the shop's tables through its compatibility views.
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SW_STORM_BINDING=django exec "$SW_ROOT/test/storm/faults.sh" --sessions 300 --tap
