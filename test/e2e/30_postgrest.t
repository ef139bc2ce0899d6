#!/usr/bin/env bash
# test/e2e/30_postgrest.t: the PostgREST endpoint, driven exactly as
# PostgREST v12 drives it.
#
# In a fresh database on the runner's cluster: CREATE EXTENSION, then
# sql/postgrest.sql as a user would run it (twice: it is idempotent).  The
# libpq harness test/postgrest/pgrst_emulate.c connects as authenticator and
# sends PostgREST's per-request statements (BEGIN ISOLATION LEVEL READ
# COMMITTED READ WRITE; the one set_config select with role web_anon and the
# lower-cased request.headers; the WITH pgrst_source ... call with the body
# bound as an untyped text parameter; COMMIT), and prints the HTTP status
# PostgREST would answer with.  Bodies are the fixtures' exact bytes with
# their ids varied, signed here with Python's hmac module (independently of the
# extension).  Checks: valid event 200 + order, duplicate 200 "already
# processed", tampered body 400, missing header 400, other event type 200,
# unknown cart 422, a body with odd whitespace/escapes 200, the same with
# prepared statements; then pg_proc's view of api.stripe_webhook (the shape
# PostgREST needs) and web_anon's privileges.  Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${PGHOST:?run me from test/run.sh}"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/${SW_PG_VERSION:-15}/bin/pg_config}

SECRET=whsec_e2e_pgrst_$RANDOM$RANDOM
WORK=$(mktemp -d /tmp/sw-pgrst-e2e.XXXXXX)
DB=sw_pgrst_e2e_$$
CREATED_ROLES=
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"

# --- set-up ----------------------------------------------------------------

cleanup() {
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    local r
    for r in $CREATED_ROLES; do
        psql -qX -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# Roles are cluster-wide: drop at the end only those this script created.
for r in authenticator web_anon stripe_webhook_api; do
    [ -z "$(psql -qXtA -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$r'")" ] &&
        CREATED_ROLES="$CREATED_ROLES $r"
done

psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || { echo "1..0 # cannot create database"; exit 1; }
q -c "CREATE EXTENSION stripe_webhook" >/dev/null
q -f "$SW_ROOT/sql/postgrest.sql" >/dev/null 2>&1
q -f "$SW_ROOT/sql/postgrest.sql" >"$WORK/second_run.log" 2>&1
ok $? "sql/postgrest.sql runs twice without error (idempotent)" "$(cat "$WORK/second_run.log")"

q >/dev/null <<SQL
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (701, 'mug', 1500, 'usd', 50), (702, 'shirt', 2500, 'usd', 50);
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (7001, '7001'), (7002, '7002');
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
VALUES (7001, 701, 2), (7001, 702, 1), (7002, 701, 2), (7002, 702, 1);
SQL

# The harness, built against the system libpq.
cc -O1 -Wall -Wextra -Werror -I"$("$PG_CONFIG" --includedir)" "$SW_ROOT/test/postgrest/pgrst_emulate.c" \
    -L"$("$PG_CONFIG" --libdir)" -lpq -o "$WORK/pgrst_emulate" 2>"$WORK/cc.log"
ok $? "the PostgREST emulation harness builds" "$(cat "$WORK/cc.log")"

# event FIXTURE EVT SESSION CART USER > file: a fixture's exact bytes with
# its ids replaced (formatting untouched).
event() {
    sed -e "s/\"id\": \"evt_[A-Za-z0-9]*\"/\"id\": \"$2\"/" \
        -e "s/\"id\": \"cs_test_[A-Za-z0-9]*\"/\"id\": \"$3\"/" \
        -e "s/\"user_id\": \"[^\"]*\"/\"user_id\": \"$5\"/" \
        -e "s/\"cart_id\": \"[^\"]*\"/\"cart_id\": \"$4\"/" \
        "$SW_ROOT/test/fixtures/$1"
}

# sign BODYFILE [SECRET] > file: t=<now>,v1=<hex HMAC-SHA256 of "t.body">
sign() {
    local t mac
    t=$(date +%s)
    mac=$(/usr/bin/python3 -c 'import hashlib, hmac, sys
print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + b"." + open(sys.argv[3], "rb").read(), hashlib.sha256).hexdigest())' \
        "${2:-$SECRET}" "$t" "$1")
    printf 't=%s,v1=%s' "$t" "$mac"
}

CONN="host=$PGHOST port=$PGPORT dbname=$DB user=authenticator"

event event.checkout.session.completed.paid.json evt_pgrst_paid1 cs_test_pgrst1 7001 7001 >"$WORK/paid.json"
sign "$WORK/paid.json" >"$WORK/paid.sig"
# Tampered: one amount changed after signing.
sed 's/"amount_total": 6000/"amount_total": 1/' "$WORK/paid.json" >"$WORK/tampered.json"
# Another event type.
event event.checkout.session.completed.paid.json evt_pgrst_other1 cs_test_pgrst_o 7001 7001 |
    sed 's/"type": "checkout.session.completed"/"type": "customer.created"/' >"$WORK/other.json"
sign "$WORK/other.json" >"$WORK/other.sig"
# Unknown cart: a permanent failure.
event event.checkout.session.completed.paid.json evt_pgrst_nocart cs_test_pgrst_nc 7999 u7999 >"$WORK/nocart.json"
sign "$WORK/nocart.json" >"$WORK/nocart.sig"
# A body json keeps byte for byte and jsonb would not: tabs, CRLF, runs of
# spaces, escaped and raw non-ASCII, a key repeated.
event event.checkout.session.completed.legacy_acacia.json evt_pgrst_odd1 cs_test_pgrst2 7002 7002 |
    sed -e 's/^  "object": "event",/  "object":\t"event",   "object": "event",/' \
        -e 's/"name": "Jenny Rosen"/"name": "J\\u00e9nny R\xc3\xb6sen"/' |
    sed 's/$/\r/' >"$WORK/odd.json"
sign "$WORK/odd.json" >"$WORK/odd.sig"

# --- the requests, on one pooled connection --------------------------------

"$WORK/pgrst_emulate" -- "$CONN" \
    "$WORK/paid.sig:$WORK/paid.json" \
    "$WORK/paid.sig:$WORK/paid.json" \
    "$WORK/paid.sig:$WORK/tampered.json" \
    "-:$WORK/paid.json" \
    "$WORK/other.sig:$WORK/other.json" \
    "$WORK/nocart.sig:$WORK/nocart.json" \
    >"$WORK/out.txt" 2>"$WORK/err.txt"
ok $? "the harness ran six requests on one connection" "$(cat "$WORK/err.txt")"
line() { sed -n "${1}p" "$WORK/out.txt"; }
status() { line "$1" | cut -d' ' -f1; }
field() { line "$1" | cut -d' ' -f2- | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2'))" 2>/dev/null; }

is "$(status 1)" 200 "valid event: HTTP 200"
is "$(field 1 message)" "order created" "valid event: order created"
ORDER=$(q -c "SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_pgrst1'")
is "$(field 1 order_id)" "$ORDER" "valid event: the answer carries the order committed in the database"
is "$(status 2)" 200 "duplicate: HTTP 200"
is "$(field 2 message)" "already processed" "duplicate: already processed"
is "$(status 3)" 400 "tampered body: HTTP 400"
like "$(field 3 message)" "No signatures found matching the expected signature" "tampered body: Stripe's reason"
is "$(status 4)" 400 "missing Stripe-Signature header: HTTP 400"
is "$(field 4 message)" "missing Stripe-Signature header" "missing header: message"
is "$(status 5)" 200 "another event type: HTTP 200"
is "$(field 5 message)" "event type ignored" "another event type: ignored"
is "$(status 6)" 422 "unknown cart: HTTP 422"
is "$(field 6 sqlstate)" SW204 "unknown cart: SQLSTATE SW204 in the answer"
is "$(grep -c '^LOOP' "$WORK/out.txt")" 0 "no request hit a 40001 that PostgREST would retry forever"

is "$(q -c "SELECT string_agg(id || ':' || status || ':' || attempts, ',' ORDER BY id) FROM stripe_webhook.events")" \
    "evt_pgrst_nocart:failed:1,evt_pgrst_other1:ignored:1,evt_pgrst_paid1:processed:1" \
    "committed: exactly the verified events, each with its status"
is "$(q -c "SELECT count(*) FROM stripe_webhook.orders")" 1 "committed: one order"
is "$(q -c "SELECT string_agg(reason || '=' || count, ',' ORDER BY reason) FROM stripe_webhook.rejected_deliveries")" \
    "missing_header=1,no_match=1" "committed: the two rejections counted, nothing else"

# Prepared statements (PostgREST's default) and a body only json keeps intact.
"$WORK/pgrst_emulate" -p -- "$CONN" "$WORK/odd.sig:$WORK/odd.json" "$WORK/odd.sig:$WORK/odd.json" \
    >"$WORK/out.txt" 2>"$WORK/err.txt"
is "$(status 1)" 200 "prepared statements, body with tabs, CRLF, escapes and a repeated key: HTTP 200"
is "$(field 1 message)" "order created" "that body was verified byte for byte and fulfilled"
is "$(status 2)" 200 "prepared statements, duplicate: HTTP 200"
is "$(field 2 message)" "already processed" "prepared statements, duplicate: already processed"
is "$(q -c "SELECT shipping_name FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_pgrst2'")" \
    "Jénny Rösen" "the escaped and the raw non-ASCII name arrived intact"

# No secret configured: 500, so that Stripe retries.
q -c "UPDATE stripe_webhook.signing_secrets SET expires_at = now() - interval '1 second'" >/dev/null
event event.checkout.session.completed.paid.json evt_pgrst_nosecret cs_test_pgrst3 7001 7001 >"$WORK/ns.json"
sign "$WORK/ns.json" >"$WORK/ns.sig"
"$WORK/pgrst_emulate" -- "$CONN" "$WORK/ns.sig:$WORK/ns.json" >"$WORK/out.txt" 2>"$WORK/err.txt"
is "$(status 1)" 500 "only an expired secret: HTTP 500"
is "$(field 1 message)" "webhook secret not configured" "only an expired secret: webhook secret not configured"

# --- the shape PostgREST needs, and web_anon's privileges ------------------

is "$(q -c "SELECT p.pronargs || ':' || (p.proargnames IS NULL OR p.proargnames = '{\"\"}') || ':' || p.proargtypes[0]::regtype
                   || ':' || p.provolatile::text || ':' || n.nspname || ':' || p.prosecdef
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'stripe_webhook'")" \
    "1:true:json:v:api:true" \
    "pg_proc: one api.stripe_webhook, 1 argument, unnamed, json, VOLATILE, SECURITY DEFINER"
is "$(q -c "SELECT string_agg(p.oid::regprocedure::text, ',') FROM pg_proc p
            WHERE p.pronamespace IN ('api'::regnamespace, 'stripe_webhook'::regnamespace)
              AND has_function_privilege('web_anon', p.oid, 'EXECUTE')
              AND NOT has_function_privilege('public', p.oid, 'EXECUTE')")" \
    "api.stripe_webhook(json)" "web_anon may execute api.stripe_webhook(json) and no other function"
is "$(q -c "SELECT has_schema_privilege('web_anon', 'api', 'USAGE') || ':' || has_schema_privilege('web_anon', 'stripe_webhook', 'USAGE')
                   || ':' || has_schema_privilege('web_anon', 'api', 'CREATE') || ':' || has_schema_privilege('web_anon', 'public', 'CREATE')")" \
    "true:false:false:false" "web_anon: USAGE on api only, CREATE nowhere"
is "$(q -c "SELECT count(*) FROM pg_class c WHERE c.relnamespace IN ('api'::regnamespace, 'stripe_webhook'::regnamespace)
              AND (has_table_privilege('web_anon', c.oid, 'SELECT') OR has_table_privilege('web_anon', c.oid, 'INSERT')
                   OR has_table_privilege('web_anon', c.oid, 'UPDATE') OR has_table_privilege('web_anon', c.oid, 'DELETE'))")" \
    0 "web_anon: no privilege on any table or view"
is "$(q -c "SELECT rolcanlogin || ':' || rolinherit FROM pg_roles WHERE rolname = 'authenticator'")" \
    "true:false" "authenticator is LOGIN NOINHERIT"
is "$(psql -qXtA -d "$DB" -U authenticator -c "SELECT count(*) FROM stripe_webhook.events" 2>&1 | grep -c 'permission denied')" \
    1 "authenticator itself cannot read the events table"

echo "1..$N"
[ "$FAILED" -eq 0 ]
