#!/usr/bin/env bash
# test/e2e/06_binding_dump.t: a shop binding survives pg_dump and restore.
#
# In a fresh database the Django-shaped test shop (test/lib/shops/django.sql)
# is bound with its document (django.json).  The database is dumped
# (custom format, restored with pg_restore; and plain SQL, restored with
# psql) into new databases: there the view stripe_webhook.shop_binding must
# show the same binding (document equal, same version and bound_by), the
# restored document must still match the restored tables (no problems), and
# the version sequence must carry on after the restored version.  Prints
# TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${PGHOST:?run me from test/run.sh}"

WORK=$(mktemp -d /tmp/sw-binddump-e2e.XXXXXX)
chmod 755 "$WORK"
DB=sw_binddump_src_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"

cleanup() {
    local d
    for d in "$DB" "${DB}_custom" "${DB}_plain"; do
        psql -qX -d postgres -c "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# q DB ARGS...: psql, tuples only (SQL with :'var' goes on stdin: -c does not interpolate)
q() { local db=$1; shift; psql -qXtA -v ON_ERROR_STOP=1 -d "$db" "$@"; }

psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null
q "$DB" -c "CREATE EXTENSION stripe_webhook" -f "$SW_ROOT/test/lib/shops/django.sql" >/dev/null
doc=$(cat "$SW_ROOT/test/lib/shops/django.json")
# bound, unbound, bound again: version 3, so that a restore that lost the
# sequence's state (back to 1) would show
printf "%s\n" "SELECT stripe_webhook.bind_shop(:'doc');" "SELECT stripe_webhook.unbind_shop();" \
       "SELECT stripe_webhook.bind_shop(:'doc');" | q "$DB" -v doc="$doc" >"$WORK/bound" 2>"$WORK/err"
ok $? "the Django-shaped test shop is bound" "$(cat "$WORK/err")"
src=$(q "$DB" -c "SELECT builtin, version, bound_by FROM stripe_webhook.shop_binding")
src_doc=$(q "$DB" -c "SELECT document FROM stripe_webhook.shop_binding")
is "$src" 'f|3|postgres' "the source database shows the stored binding, version 3"

ver=$(printf '%s' "$src" | cut -d'|' -f2)

restored_checks() {
    local db=$1 how=$2 got
    got=$(q "$db" -c "SELECT builtin, version, bound_by FROM stripe_webhook.shop_binding" 2>&1)
    is "$got" "$src" "$how: the view shows the stored binding, same version and bound_by"
    got=$(echo "SELECT document = :'doc'::jsonb FROM stripe_webhook.shop_binding" | q "$db" -v doc="$src_doc" 2>&1)
    is "$got" "t" "$how: the document is equal"
    got=$(q "$db" -c "SELECT count(*) FROM stripe_webhook.binding_problems((SELECT document FROM stripe_webhook.binding))" 2>&1)
    is "$got" "0" "$how: the restored document matches the restored tables"
    got=$(q "$db" -c "SELECT stripe_webhook.bind_shop(document) IS NOT NULL FROM stripe_webhook.binding" \
                  -c "SELECT version > $ver FROM stripe_webhook.binding" 2>&1)
    is "$got" $'t\nt' "$how: binding again takes a version after the restored one"
}

pg_dump -Fc -f "$WORK/dump.custom" "$DB" 2>"$WORK/err"
ok $? "pg_dump -Fc" "$(cat "$WORK/err")"
psql -qX -d postgres -c "CREATE DATABASE ${DB}_custom" >/dev/null
pg_restore --exit-on-error -d "${DB}_custom" "$WORK/dump.custom" 2>"$WORK/err"
ok $? "pg_restore into a new database" "$(cat "$WORK/err")"
restored_checks "${DB}_custom" "custom format"

pg_dump -Fp -f "$WORK/dump.sql" "$DB" 2>"$WORK/err"
ok $? "pg_dump (plain SQL)" "$(cat "$WORK/err")"
psql -qX -d postgres -c "CREATE DATABASE ${DB}_plain" >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d "${DB}_plain" -f "$WORK/dump.sql" >/dev/null 2>"$WORK/err"
ok $? "psql restores the plain dump into a new database" "$(cat "$WORK/err")"
restored_checks "${DB}_plain" "plain format"

echo "1..$N"
[ "$FAILED" -eq 0 ]
