#!/usr/bin/env bash
# test/e2e/50_relay.t: stripe-webhook-relay end to end, over real HTTP.
#
# Starts its own cluster (one test stops and restarts the server), creates a
# fresh database with the extension, the relay role (sql/relay_role.sql), a
# signing secret, products and carts, runs the installed stripe-webhook-relay
# on a free port as that role and talks to it with curl:
#   valid event -> 200 and an order; the same event again -> 200, same order;
#   tampered body -> 400, nothing written; no signing secret -> 500, nothing
#   written; body over the limit -> 413; 404 / 405 / missing header 400;
#   NUL byte or invalid UTF-8 -> 400 before the database; healthz;
#   stalled client cut off; pool exhausted -> 503; database stopped -> 503,
#   then the same delivery succeeds once it is back; SIGTERM during a
#   request -> the request completes and the relay exits 0; the log has one
#   line per request and never the body, the signature or the secret.
# Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

RELAY=$SW_BINDIR/stripe-webhook-relay
TEMPLATE=$SW_ROOT/demo/checkout.session.completed.json
SECRET=whsec_e2e_relay_$RANDOM$RANDOM
WORK=$(mktemp -d /tmp/sw-relay-e2e.XXXXXX)
DB=sw_relay_e2e_$$
RELAY_PID=
LOCK_PID=
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"

# --- fixtures ----------------------------------------------------------------

cleanup() {
    [ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null
    exec 7>&- 2>/dev/null
    sw_cluster_stop
    rm -rf "$WORK"
}
trap cleanup EXIT

# q SQL: one value from the test database, as superuser.
q() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "$1"
}

# make_cart USER: a fresh active cart for USER with two products; prints its id.
make_cart() {
    q "WITH c AS (INSERT INTO stripe_webhook.carts (user_id) VALUES ('$1') RETURNING id),
            i AS (INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
                  SELECT c.id, p.product_id, p.quantity FROM c,
                         (VALUES (1::bigint, 2), (2::bigint, 1)) AS p(product_id, quantity))
       SELECT id FROM c"
}

# make_event NAME EVT CS CART USER: write NAME.json, a checkout.session.completed
# for that cart (subtotal 2*1200 + 3100 = 5500), and NAME.sig, its header.
make_event() {
    local name=$1 evt=$2 cs=$3 cart=$4 user=$5
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -v tmpl="$(cat "$TEMPLATE")" \
        -v evt="$evt" -v cs="$cs" -v cart="$cart" -v user="$user" >"$WORK/$name.json" <<'SQL'
SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'tmpl'::jsonb,
         '{id}', to_jsonb(:'evt'::text)),
         '{data,object,id}', to_jsonb(:'cs'::text)),
         '{data,object,client_reference_id}', to_jsonb(:'cart'::text)),
         '{data,object,metadata}', jsonb_build_object('user_id', :'user'::text, 'cart_id', :'cart'::text))::text
SQL
    sign "$name"
}

# sign NAME: NAME.sig = stripe_signature_header(contents of NAME.json, SECRET).
sign() {
    printf '%s' "$(cat "$WORK/$1.json")" >"$WORK/$1.body"
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -v body="$(cat "$WORK/$1.body")" -v secret="$SECRET" \
        >"$WORK/$1.sig" <<'SQL'
SELECT stripe_webhook.stripe_signature_header(:'body', :'secret')
SQL
}

# post NAME [curl args...]: POST NAME.body with NAME.sig; prints "STATUS BODY".
post() {
    local name=$1; shift
    rm -f "$WORK/reply"
    curl -s -m 20 -o "$WORK/reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json; charset=utf-8' \
        -H "Stripe-Signature: $(cat "$WORK/$name.sig")" \
        --data-binary @"$WORK/$name.body" "$@" "$URL/api/payments/stripe_webhook/"
    printf ' %s' "$(cat "$WORK/reply" 2>/dev/null)"
}

# start_relay LOG [flags...]: run the relay as the relay role on a free port.
start_relay() {
    local log=$1 i; shift
    PORT=$(sw_free_port)
    URL=http://127.0.0.1:$PORT
    "$RELAY" --database-url "host=$PGHOST port=$PGPORT dbname=$DB user=stripe_webhook_relay" \
        --listen "127.0.0.1:$PORT" "$@" 2>>"$WORK/$log" &
    RELAY_PID=$!
    for i in $(seq 1 100); do
        curl -s -o /dev/null "$URL/healthz" && return 0
        sleep 0.05
    done
    return 1
}

# stop_relay: SIGTERM and wait; the exit status goes to STOP_RC.
stop_relay() {
    kill -TERM "$RELAY_PID"
    wait "$RELAY_PID"
    STOP_RC=$?
    RELAY_PID=
}

# hold_orders_lock: a superuser session holds a lock that blocks every insert
# into orders (the relay's call then waits) until release_lock.
hold_orders_lock() {
    mkfifo "$WORK/lockfifo"
    psql -qAtX -d "$DB" <"$WORK/lockfifo" >/dev/null &
    LOCK_PID=$!
    exec 7>"$WORK/lockfifo"
    echo "BEGIN; LOCK TABLE stripe_webhook.orders IN SHARE MODE;" >&7
    # return only once the lock is held: a request sent earlier would not
    # block, and the tests that rely on it would race
    local i
    for i in $(seq 1 200); do
        [ "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'stripe_webhook.orders'::regclass
                AND mode = 'ShareLock' AND granted")" -ge 1 ] && return 0
        sleep 0.05
    done
    return 1
}

release_lock() {
    echo "ROLLBACK;" >&7
    exec 7>&-
    wait "$LOCK_PID"
    LOCK_PID=
    rm -f "$WORK/lockfifo"
}

# wait_blocked: until one relay session waits on a lock (at most 10 s).
wait_blocked() {
    local i
    for i in $(seq 1 200); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay' AND wait_event_type = 'Lock'")" -ge 1 ] && return 0
        sleep 0.05
    done
    return 1
}

# --- setup -------------------------------------------------------------------

sw_cluster_start relay >/dev/null || { echo "1..0 # Skip cannot start a cluster"; exit 1; }
psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL || exit 1
CREATE EXTENSION stripe_webhook;
\i $SW_ROOT/sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (1, 'Espresso cup', 1200, 'usd', 100), (2, 'Coffee beans 1 kg', 3100, 'usd', 100);
SQL

# --- the main path -----------------------------------------------------------

start_relay relay.log
ok $? "relay starts and answers /healthz"

is "$(curl -s -w ' %{http_code}' "$URL/healthz")" '{"status": 200, "message": "ok"} 200' \
    "GET /healthz: 200 while the database answers"
is "$(curl -s -I -o /dev/null -w '%{http_code}' "$URL/healthz")" 200 "HEAD /healthz: 200"

CART1=$(make_cart u1)
make_event ev1 evt_RelayE2E1 cs_test_relay_e2e_1 "$CART1" u1
R=$(post ev1)
like "$R" '^200 .*"status": 200' "valid event: 200"
ORDER1=$(q "SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_relay_e2e_1'")
like "$R" "\"order_id\": \"$ORDER1\"" "valid event: the reply names the order created for the session"
is "$(q "SELECT status || ' ' || payment_status || ' ' || cart_id || ' ' || user_id || ' ' || amount_total
         FROM stripe_webhook.orders WHERE id = '$ORDER1'")" "confirmed paid $CART1 u1 6000" \
    "valid event: order confirmed and paid for the user's cart"
is "$(q "SELECT string_agg(product_id || 'x' || quantity, ',' ORDER BY product_id)
         FROM stripe_webhook.order_items WHERE order_id = '$ORDER1'")" "1x2,2x1" \
    "valid event: order items are the cart's"
is "$(q "SELECT string_agg(stock::text, ',' ORDER BY id) FROM stripe_webhook.products")" "98,99" \
    "valid event: stock taken"
is "$(q "SELECT status FROM stripe_webhook.events WHERE id = 'evt_RelayE2E1'")" processed \
    "valid event: recorded as processed"

# non-ASCII text passes byte for byte (the signature covers the exact bytes)
CART6=$(make_cart u6)
make_event ev6 evt_RelayE2E6 cs_test_relay_e2e_6 "$CART6" u6
NAME='Zoë Ünïcødé 😀 €'
sed "s/\"name\": \"Ada Lovelace\"/\"name\": \"$NAME\"/g" "$WORK/ev6.json" >"$WORK/ev6u.json"
mv "$WORK/ev6u.json" "$WORK/ev6.json"
sign ev6
like "$(post ev6)" '^200 ' "event with non-ASCII UTF-8 (2-, 3- and 4-byte characters): 200"
is "$(q "SELECT shipping_name FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_relay_e2e_6'")" \
    "$NAME" "non-ASCII text arrives unchanged"

AFTER1=$(sw_shop_state "$DB")
R=$(post ev1)
like "$R" "^200 .*\"order_id\": \"$ORDER1\"" "duplicate delivery: 200 with the same order"
like "$R" 'already processed' "duplicate delivery: reported as already processed"
is "$(sw_shop_state "$DB")" "$AFTER1" "duplicate delivery: nothing else written"

# tampered: the body changes after signing (a lower amount), same header
CART2=$(make_cart u2)
make_event ev2 evt_RelayE2E2 cs_test_relay_e2e_2 "$CART2" u2
sed 's/"amount_total": 6000/"amount_total": 1/' "$WORK/ev2.body" >"$WORK/tampered.body"
cp "$WORK/ev2.sig" "$WORK/tampered.sig"
BEFORE=$(sw_shop_state "$DB")
R=$(post tampered)
like "$R" '^400 ' "tampered body: 400"
is "$(sw_shop_state "$DB" | cut -d' ' -f1-5)" "$(echo "$BEFORE" | cut -d' ' -f1-5)" \
    "tampered body: no event, order, cart or stock change"

# no signing secret configured: 500 (Stripe retries), nothing written
q "DELETE FROM stripe_webhook.signing_secrets" >/dev/null
BEFORE=$(sw_shop_state "$DB")
R=$(post ev2)
like "$R" '^500 .*secret not configured' "no signing secret: 500 \"webhook secret not configured\""
is "$(sw_shop_state "$DB" | cut -d' ' -f1-5)" "$(echo "$BEFORE" | cut -d' ' -f1-5)" \
    "no signing secret: no event, order, cart or stock change"
q "INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET')" >/dev/null
like "$(post ev2)" '^200 ' "the same delivery succeeds once a secret is configured"

# --- refused by the relay itself -----------------------------------------------

BEFORE=$(sw_shop_state "$DB")
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" 404 "unknown path: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/payments/stripe_webhook")" 404 \
    "webhook path without the trailing slash: 404"
is "$(curl -s -D - -o /dev/null "$URL/api/payments/stripe_webhook/" | tr -d '\r' | grep -iE '^(HTTP|Allow)' | tr '\n' '|')" \
    "HTTP/1.1 405 Method Not Allowed|Allow: POST|" "GET on the webhook: 405 with Allow: POST"
is "$(curl -s -X PUT -o /dev/null -w '%{http_code}' -d x "$URL/api/payments/stripe_webhook/")" 405 "PUT on the webhook: 405"
is "$(curl -s -X POST -D - -o /dev/null "$URL/healthz" | tr -d '\r' | grep -iE '^Allow' )" \
    "Allow: GET, HEAD" "POST on /healthz: 405 with Allow: GET, HEAD"
R=$(curl -s -w ' %{http_code}' -X POST --data-binary @"$WORK/ev1.body" "$URL/api/payments/stripe_webhook/")
like "$R" '^\{"status": 400, "message": "missing Stripe-Signature header"\} 400$' "no Stripe-Signature header: 400"

printf '{"id": "evt_nul\0"}' >"$WORK/nul.body"
cp "$WORK/ev1.sig" "$WORK/nul.sig"
like "$(post nul)" '^400 .*NUL byte' "body with a NUL byte: 400"
printf '{"id": "evt_\xff\xfe"}' >"$WORK/badutf8.body"
cp "$WORK/ev1.sig" "$WORK/badutf8.sig"
like "$(post badutf8)" '^400 .*not valid UTF-8' "body with invalid UTF-8: 400"
printf '{"id": "evt_\xed\xa0\x80"}' >"$WORK/surrogate.body"
cp "$WORK/ev1.sig" "$WORK/surrogate.sig"
like "$(post surrogate)" '^400 .*not valid UTF-8' "body with an encoded surrogate: 400"

head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$WORK/big.body"
cp "$WORK/ev1.sig" "$WORK/big.sig"
like "$(post big)" '^413 .*body too large' "body of 1 MiB + 1 byte (Content-Length): 413"
R=$(post big -H 'Transfer-Encoding: chunked' -H 'Expect:')
like "$R" '^(413|000) ' "chunked body over 1 MiB: 413 or the connection closed, never passed on"
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/limit.body"
cp "$WORK/ev1.sig" "$WORK/limit.sig"
like "$(post limit)" '^400 ' "body of exactly 1 MiB: passed on (the handler answers 400, a bad signature)"
is "$(sw_shop_state "$DB" | cut -d' ' -f1-5)" "$(echo "$BEFORE" | cut -d' ' -f1-5)" \
    "refused requests wrote nothing"

# a client that sends headers and then stalls is cut off after --timeout
stop_relay
is "$STOP_RC" 0 "relay exits 0 on SIGTERM when idle"
start_relay relay-timeout.log --timeout 1
T0=$(date +%s%N)
{
    exec 5<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /api/payments/stripe_webhook/ HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1\r\nContent-Length: 100\r\n\r\n{"id"' >&5
    timeout 10 cat <&5 >/dev/null
    exec 5<&-
}
ELAPSED_MS=$((($(date +%s%N) - T0) / 1000000))
[ "$ELAPSED_MS" -ge 900 ] && [ "$ELAPSED_MS" -lt 5000 ]
ok $? "stalled client: connection closed after the 1 s timeout (${ELAPSED_MS} ms)"
like "$(cat "$WORK/relay-timeout.log")" 'POST /api/payments/stripe_webhook/ - - .*\(client timed out\)' \
    "stalled client: logged as timed out"
stop_relay

# --- pool exhausted, statement timeout ------------------------------------------

start_relay relay-pool.log --pool-size 1 --pool-wait-ms 300 --statement-timeout-ms 3000
CART3=$(make_cart u3)
make_event ev3 evt_RelayE2E3 cs_test_relay_e2e_3 "$CART3" u3
hold_orders_lock
post ev3 >"$WORK/ev3.reply" &
CURL_PID=$!
wait_blocked
ok $? "a request waits on the held lock with the pool's only connection"
R=$(curl -s -w ' %{http_code}' "$URL/healthz")
like "$R" '^\{"status": 503, "message": "no free database connection"\} 503$' \
    "pool exhausted beyond --pool-wait-ms: 503"
wait "$CURL_PID"
like "$(cat "$WORK/ev3.reply")" '^503 ' "--statement-timeout-ms cancels the blocked call: 503 (Stripe retries)"
release_lock
is "$(q "SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_relay_e2e_3'")" 0 \
    "cancelled call wrote no order"
like "$(post ev3)" '^200 ' "the retried delivery succeeds"

# the pool's only connection is killed between requests (a server restart
# looks the same): the next request notices, reconnects and succeeds
BEFORE_PID=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay'")
is "$(q "SELECT pg_terminate_backend($BEFORE_PID)")" t "the relay's database session is terminated"
CART7=$(make_cart u7)
make_event ev7 evt_RelayE2E7 cs_test_relay_e2e_7 "$CART7" u7
like "$(post ev7)" '^200 .*order_id' "the next delivery is served on a new connection: 200"
AFTER_PID=$(q "SELECT pid FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay'")
[ -n "$AFTER_PID" ] && [ "$AFTER_PID" != "$BEFORE_PID" ]
ok $? "... which replaced the dead one (pid $BEFORE_PID -> $AFTER_PID)"
stop_relay

# --- database down and back ---------------------------------------------------

start_relay relay-down.log
CART4=$(make_cart u4)
make_event ev4 evt_RelayE2E4 cs_test_relay_e2e_4 "$CART4" u4
sw_pg_ctl stop -m fast -w >/dev/null
is "$(curl -s -w ' %{http_code}' "$URL/healthz")" '{"status": 503, "message": "database unavailable"} 503' \
    "database stopped: /healthz 503"
like "$(post ev4)" '^503 .*database unavailable' "database stopped: webhook 503 (Stripe retries)"
kill -0 "$RELAY_PID"
ok $? "database stopped: the relay keeps running"
# a second relay started while the database is down comes up and waits
MAIN_PID=$RELAY_PID MAIN_URL=$URL
start_relay relay-cold.log
ok $? "a relay started while the database is down starts anyway"
COLD_PID=$RELAY_PID COLD_URL=$URL
is "$(curl -s -o /dev/null -w '%{http_code}' "$COLD_URL/healthz")" 503 "... and answers 503"
RELAY_PID=$MAIN_PID URL=$MAIN_URL
sw_pg_ctl -l "$SW_PGLOG" -w -t 60 start >/dev/null
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200 "database back: /healthz 200"
is "$(curl -s -o /dev/null -w '%{http_code}' "$COLD_URL/healthz")" 200 "database back: the relay started during the outage answers 200"
kill -TERM "$COLD_PID"
wait "$COLD_PID"
is "$?" 0 "... and stops cleanly"
R=$(post ev4)
like "$R" '^200 .*order_id' "database back: the retried delivery creates its order"
like "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay'")" '^[1-4]$' \
    "database back: the relay holds at most --pool-size connections"
like "$(grep -E '^[^ ]+ database (unavailable:|connection restored)' "$WORK/relay-down.log" | sed 's/^[^ ]* //; s/:.*//' | tr '\n' '|')" \
    '^database unavailable\|database connection restored\|$' \
    "outage logged once when it starts and once when it ends"
stop_relay

# --- SIGTERM during a request ----------------------------------------------------

start_relay relay-term.log
CART5=$(make_cart u5)
make_event ev5 evt_RelayE2E5 cs_test_relay_e2e_5 "$CART5" u5
hold_orders_lock
post ev5 >"$WORK/ev5.reply" &
CURL_PID=$!
wait_blocked
ok $? "SIGTERM test: a request is in flight, blocked in the database"
kill -TERM "$RELAY_PID"
sleep 0.3
kill -0 "$RELAY_PID"
ok $? "after SIGTERM the relay waits for the request in flight"
curl -s -m 2 -o /dev/null "$URL/healthz"
is "$?" 7 "after SIGTERM new connections are refused"
release_lock
wait "$CURL_PID"
like "$(cat "$WORK/ev5.reply")" '^200 .*order_id' "the in-flight request completes with 200"
wait "$RELAY_PID"
is "$?" 0 "then the relay exits 0"
RELAY_PID=
for i in $(seq 1 40); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay'")" = 0 ] && break
    sleep 0.05
done
is "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'stripe_webhook_relay'")" 0 \
    "and closes its database connections"

# --- the log --------------------------------------------------------------------

cat "$WORK"/relay*.log >"$WORK/all.log"
like "$(grep -c ' POST /api/payments/stripe_webhook/ 200 evt_RelayE2E1 ' "$WORK/all.log")" '^2$' \
    "log: one line per request with method, path, status and event id"
like "$(head -2 "$WORK/relay.log" | tail -1)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z GET /healthz 200 - [0-9.]+ms$' \
    "log: time first, latency last"
LEAK=0
for s in "$SECRET" cs_test_relay_e2e ada@example.com 'Ada Lovelace' 'v1=' \
    $(cat "$WORK"/ev*.sig | sed 's/.*v1=//'); do
    grep -qF -- "$s" "$WORK/all.log" && { LEAK=1; echo "# found in the log: ${s:0:12}..."; }
done
ok $LEAK "log: no secret, signature, or body content"

echo "1..$N"
[ "$FAILED" -eq 0 ]
