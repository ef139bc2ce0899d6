#!/usr/bin/env bash
# test/e2e/20_fulfil_log.t: the per-step fulfilment log.  Steps are logged at
# stripe_webhook.log_level (each of its nine values: the client sees the step
# with that level's prefix, and not one level up), every review flag is a
# WARNING, and neither the client nor the server log ever shows the session
# payload (customer data), even when the caller passes it as a literal in the
# statement.
#
# Runs in its own database on the runner's cluster; reads the server log
# when SW_PGLOG is set (test/run.sh exports it).
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
DB="sw_fulfil_log_$$"
WORK=$(mktemp -d /tmp/sw-fulfil-log.XXXXXX)
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
has() { if grep -qE -- "$2" "$1"; then ok "$3"; else notok "$3"; sed 's/^/#   /' "$1" | head -20; fi; }
hasnt() { if grep -qE -- "$2" "$1"; then notok "$3"; grep -E -- "$2" "$1" | head -5 | sed 's/^/#   /'; else ok "$3"; fi; }

cleanup() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "1..33"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null &&
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL' || { echo "Bail out! setup failed"; exit 1; }
CREATE EXTENSION stripe_webhook;
INSERT INTO stripe_webhook.products (id, name, price_amount, stock) VALUES (101, 'Mug', 2750, 100), (102, 'Shirt', 2500, 0);
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (1337, '42'), (1338, '43'), (1339, '44');
INSERT INTO stripe_webhook.cart_items VALUES (1337, 101, 2), (1338, 101, 2), (1338, 102, 1), (1339, 101, 2);
SQL

PAID=$(cat "$ROOT/test/fixtures/checkout_session.completed.paid.json")
# fulfil SESSION_SQL LOG_LEVEL OUTFILE: run one fulfilment, the session
# passed as a literal (the worst case for the log), client messages from
# NOTICE up captured
fulfil() {
    psql -X -v ON_ERROR_STOP=1 -d "$DB" -At >"$3" 2>&1 <<SQL
SET client_min_messages = notice;
SET stripe_webhook.log_level = '$2';
SELECT stripe_webhook.stripe_fulfill_session($1);
SQL
}
LIT="\$json\$$PAID\$json\$::jsonb"

# 1. steps at log_level = notice reach the client
fulfil "$LIT" notice "$WORK/first.out"
has "$WORK/first.out" '^NOTICE:  payment successful for checkout session cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY \(cart 1337, user 42\)$' \
    "step: payment successful for the session, with cart and user"
has "$WORK/first.out" '^NOTICE:  cart 1337 locked for checkout session cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY; new active cart [0-9]+ for user 42$' \
    "step: cart N locked, new active cart"
has "$WORK/first.out" '^NOTICE:  order [0-9a-f-]{36} created with 1 items for checkout session cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY \(status confirmed, payment paid\)$' \
    "step: order X created with K items"
hasnt "$WORK/first.out" 'WARNING' "no warning for a clean order"

# 2. a repeat is logged as already processed
fulfil "$LIT" notice "$WORK/repeat.out"
has "$WORK/repeat.out" '^NOTICE:  checkout session cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY already processed: order [0-9a-f-]{36}$' \
    "step: a repeat is logged as already processed"

# 2b. every log_level, through the repeat's step line (it writes nothing):
# shown with the level's prefix when client_min_messages lets that level
# through, hidden one level up (INFO always reaches the client)
SID=cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY
# at LEVEL CLIENT_MIN_MESSAGES OUTFILE: the repeat at log_level LEVEL
at() {
    psql -X -v ON_ERROR_STOP=1 -d "$DB" -At >"$3" 2>&1 <<SQL
SET client_min_messages = $2;
SET stripe_webhook.log_level = '$1';
SELECT stripe_webhook.stripe_fulfill_session($LIT);
SQL
}
STEP=" checkout session $SID already processed: order [0-9a-f-]{36}$"
for lv in "debug5 DEBUG debug5 debug4" "debug4 DEBUG debug4 debug3" "debug3 DEBUG debug3 debug2" \
          "debug2 DEBUG debug2 debug1" "debug1 DEBUG debug1 log" "info INFO error -" \
          "notice NOTICE notice warning" "warning WARNING warning error" "log LOG log notice"; do
    set -- $lv
    at "$1" "$3" "$WORK/level-$1.out"
    has "$WORK/level-$1.out" "^$2: $STEP" "log_level $1: the step is logged as $2 with client_min_messages = $3"
    if [ "$4" = - ]; then
        hasnt "$WORK/level-$1.out" "^(DEBUG|LOG|NOTICE|WARNING): $STEP" "log_level $1: ... and under no other level"
    else
        at "$1" "$4" "$WORK/level-$1-hidden.out"
        hasnt "$WORK/level-$1-hidden.out" "$STEP" "log_level $1: ... and not shown with client_min_messages = $4"
    fi
done

# 3. every flag is a WARNING with the reason and a hint, whatever log_level
SHORT="jsonb_set(jsonb_set(jsonb_set($LIT, '{id}', '\"cs_test_log_short\"'), '{metadata,cart_id}', '\"1338\"'), '{metadata,user_id}', '\"43\"')"
fulfil "$SHORT" debug1 "$WORK/short.out"
has "$WORK/short.out" '^WARNING:  order [0-9a-f-]{36} for checkout session cs_test_log_short needs review$' \
    "flag: a WARNING names the order and the session"
has "$WORK/short.out" '^DETAIL:  Reason: stock short: product 102 short by 1 of 1\.$' "flag: the stock shortfall is the detail"
has "$WORK/short.out" '^DETAIL:  Reason: amount mismatch: the session.s subtotal is 5500 usd but the cart.s items cost 8000 usd\.$' \
    "flag: the amount mismatch is a second WARNING"
[ "$(grep -c '^WARNING:' "$WORK/short.out")" = 2 ] && ok "flag: one WARNING per flag (two here)" || notok "one WARNING per flag"
has "$WORK/short.out" '^HINT:  ' "flag: the WARNING has a hint for staff"
hasnt "$WORK/short.out" 'NOTICE|LOG:|DEBUG' "log_level debug1: no step reaches a client at notice"

# 4. nothing from the payload shows up on the client
cat "$WORK"/*.out >"$WORK/all.client"
hasnt "$WORK/all.client" 'jenny|Townsend|94103|pi_1Pgafy|example\.com' "client messages carry ids, never customer data"

# 5. the server log (log_level = log, the default) never carries the payload
if [ -n "${SW_PGLOG:-}" ] && [ -r "$SW_PGLOG" ]; then
    before=$(wc -c <"$SW_PGLOG")
    psql -X -q -d "$DB" -At >/dev/null 2>&1 <<SQL
SELECT stripe_webhook.stripe_fulfill_session(jsonb_set(jsonb_set($LIT, '{id}', '"cs_test_log_server"'), '{metadata}', '{"user_id": "44", "cart_id": "1339"}'));
SELECT stripe_webhook.stripe_fulfill_session($LIT);
SQL
    sleep 0.5
    tail -c +"$((before + 1))" "$SW_PGLOG" >"$WORK/server.log"
    has "$WORK/server.log" 'LOG:  order [0-9a-f-]{36} created with 1 items for checkout session cs_test_log_server' \
        "server log: the steps are there at the default level"
    hasnt "$WORK/server.log" 'jenny|Townsend|94103|example\.com|STATEMENT' \
        "server log: no payload and no STATEMENT line for steps, though the call had the payload as a literal"
    # An ERROR does log its statement (log_min_error_statement = error): a
    # caller must bind the payload as a parameter, as the webhook handler does.
    before=$(wc -c <"$SW_PGLOG")
    psql -X -q -d "$DB" -At >/dev/null 2>&1 <<SQL
SELECT stripe_webhook.stripe_fulfill_session(jsonb_set(jsonb_set($LIT, '{id}', '"cs_test_log_error"'), '{metadata,cart_id}', '"999999"'));
SQL
    sleep 0.5
    tail -c +"$((before + 1))" "$SW_PGLOG" >"$WORK/server-error.log"
    has "$WORK/server-error.log" 'ERROR:  cart does not exist' "server log: the error itself is logged"
else
    ok "# SKIP no readable server log (SW_PGLOG)"
    ok "# SKIP no readable server log (SW_PGLOG)"
    ok "# SKIP no readable server log (SW_PGLOG)"
fi

[ "$fails" -eq 0 ]
