#!/usr/bin/env bash
# test/e2e/55_relay_role_temp.t: the relay's role cannot create temporary
# tables, and still delivers.
#
# sql/relay_role.sql takes TEMPORARY on the database away from PUBLIC and
# grants it back to every role that existed before (PUBLIC's privilege cannot
# be revoked from one role alone).  Checked: stripe_webhook_relay cannot
# CREATE TEMP TABLE (42501, nothing created); a role that existed before the
# script still can; PUBLIC no longer has it (so a role created afterwards has
# not either, as documented); running the script again changes nothing; the
# relay, connected as that role, still answers a valid signed delivery with
# 200 and makes its order, and nothing else is written.
# On the runner's cluster (a fresh database, dropped afterwards); about 2 s.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

WORK=$(mktemp -d /tmp/sw-relay-temp.XXXXXX)
DB=sw_relay_temp_$$
OLD_ROLE=sw_before_relay_$$
NEW_ROLE=sw_after_relay_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"
. "$SW_ROOT/test/lib/relay.sh"

cleanup() {
    relay_cleanup
    psql -qX -d postgres -c "DROP ROLE IF EXISTS $OLD_ROLE" -c "DROP ROLE IF EXISTS $NEW_ROLE" >/dev/null 2>&1
}
trap cleanup EXIT

psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $OLD_ROLE LOGIN" >/dev/null || exit 1
relay_setup || { echo "1..0 # Skip cannot set up the database"; exit 1; }
psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $NEW_ROLE LOGIN" >/dev/null || exit 1

# temp ROLE: try CREATE TEMP TABLE as ROLE; prints "created" or the SQLSTATE.
temp() {
    psql -qAtX -U "$1" -d "$DB" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
        -c "CREATE TEMP TABLE sw_scratch (x int)" -c "SELECT 'created'" 2>&1 |
        sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p; s/^created$/created/p'
}

is "$(temp stripe_webhook_relay)" 42501 "stripe_webhook_relay: CREATE TEMP TABLE fails with 42501 (insufficient privilege)"
is "$(q "SELECT has_database_privilege('stripe_webhook_relay', current_database(), 'TEMPORARY')")" f \
    "stripe_webhook_relay has no TEMPORARY on the database"
is "$(q "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')")" f "PUBLIC has no TEMPORARY on the database"
is "$(temp "$OLD_ROLE")" created "a role that existed before the script still creates temporary tables"
is "$(temp "$NEW_ROLE")" 42501 "a role created after it does not (it needs GRANT TEMPORARY, as documented)"
is "$(q "SELECT has_database_privilege('public', 'postgres', 'TEMPORARY')")" t "other databases keep PUBLIC's TEMPORARY"

ACL0=$(q "SELECT datacl::text FROM pg_database WHERE datname = current_database()")
psql -qX -v ON_ERROR_STOP=1 -d "$DB" -f "$SW_ROOT/sql/relay_role.sql" >/dev/null 2>&1
is "$?" 0 "running sql/relay_role.sql again succeeds"
is "$(q "SELECT datacl::text FROM pg_database WHERE datname = current_database()")" "$ACL0" \
    "... and changes no database privilege"
is "$(temp stripe_webhook_relay)" 42501 "... the relay's role still cannot create temporary tables"

relay_start temp.log
ok $? "the relay starts as stripe_webhook_relay"
S0=$(sw_shop_state "$DB")
relay_valid_delivery "relay role without TEMPORARY"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1)" "one delivery written, nothing else"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

echo "1..$N"
[ "$FAILED" -eq 0 ]
