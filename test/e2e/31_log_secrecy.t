#!/usr/bin/env bash
# test/e2e/31_log_secrecy.t: signing secrets, signatures and payloads never
# reach the server log at default settings.
#
# In a fresh database on the runner's cluster (whose log is $SW_PGLOG, at
# default logging settings), deliveries carrying recognisable markers go
# through stripe_handle_webhook() along every path that logs something:
# processed, duplicate, ignored, tampered, wrong secret, missing header, not
# JSON, not an event, permanent failure (422, logged as a WARNING),
# transient failure (a real lock timeout, 503, WARNING), no active secret
# (500), replay.  The calls are sent as plain SQL with the payload and the
# header inline: were any of them to raise an error, the server would log
# the statement (log_min_error_statement), and the test would see it.  Then
# the part of the log written meanwhile must contain none of the secret, the
# signatures or the payload marker, while it does contain the step lines
# (so that the right log was read).  Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${PGHOST:?run me from test/run.sh}"
: "${SW_PGLOG:?run me from test/run.sh}"

MARK=$RANDOM$RANDOM$RANDOM
SECRET=whsec_LOGSECRET${MARK}xyz
OLD_SECRET=whsec_OLDLOGSECRET${MARK}xyz
PAYLOAD_MARK=PAYLOADMARK${MARK}
WORK=$(mktemp -d /tmp/sw-logsec-e2e.XXXXXX)
DB=sw_logsec_e2e_$$
LOCK_PID=
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"

cleanup() {
    [ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# The log as the server writes it (the cluster runs as the postgres user).
log_size() { stat -c %s "$SW_PGLOG" 2>/dev/null || echo 0; }
START=$(log_size)

psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || { echo "1..0 # cannot create database"; exit 1; }
is "$(q -c "SHOW log_min_messages")|$(q -c "SHOW log_statement")|$(q -c "SHOW log_min_error_statement")" \
    "warning|none|error" "the server logs at default settings"

q >/dev/null <<SQL
CREATE EXTENSION stripe_webhook;
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
INSERT INTO stripe_webhook.signing_secrets (secret, expires_at) VALUES ('$OLD_SECRET', now() + interval '1 day');
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (801, 'mug', 1500, 'usd', 50), (802, 'shirt', 2500, 'usd', 50);
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (8001, '8001'), (8002, '8002');
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
VALUES (8001, 801, 2), (8001, 802, 1), (8002, 801, 2), (8002, 802, 1);
SQL

# event EVT SESSION CART USER > file: the paid fixture with its ids varied
# and the payload marker in the customer's name, address and metadata (no
# trailing newline, so that the shell passes the bytes that were signed).
event() {
    printf '%s' "$(event_lines "$@")"
}
event_lines() {
    sed -e "s/\"id\": \"evt_[A-Za-z0-9]*\"/\"id\": \"$1\"/" \
        -e "s/\"id\": \"cs_test_[A-Za-z0-9]*\"/\"id\": \"$2\"/" \
        -e "s/\"user_id\": \"[^\"]*\"/\"user_id\": \"$4\", \"note\": \"$PAYLOAD_MARK\"/" \
        -e "s/\"cart_id\": \"[^\"]*\"/\"cart_id\": \"$3\"/" \
        -e "s/Jenny Rosen/Jenny $PAYLOAD_MARK/" \
        -e "s/510 Townsend St/510 $PAYLOAD_MARK St/" \
        "$SW_ROOT/test/fixtures/event.checkout.session.completed.paid.json"
}

# sign BODYFILE [SECRET]: t=<now>,v1=<hex>; each v1 is kept in sigs.txt
# for the check.
sign() {
    local t mac
    t=$(date +%s)
    mac=$(/usr/bin/python3 -c 'import hashlib, hmac, sys
print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + b"." + open(sys.argv[3], "rb").read(), hashlib.sha256).hexdigest())' \
        "${2:-$SECRET}" "$t" "$1")
    echo "$mac" >>"$WORK/sigs.txt"
    printf 't=%s,v1=%s' "$t" "$mac"
}

# deliver BODYFILE HEADER [psql -c prefix]: the handler's status, called with
# the payload and the header inline in the statement text.
deliver() {
    local body header
    body=$(cat "$1")
    header=$2
    q -c "${3:-}SELECT stripe_webhook.stripe_handle_webhook(\$pl\$$body\$pl\$, \$sg\$$header\$sg\$) ->> 'status'" 2>"$WORK/err.txt" | tail -1
}

event evt_log_paid1 cs_test_log1 8001 8001 >"$WORK/paid.json"
H=$(sign "$WORK/paid.json")
is "$(deliver "$WORK/paid.json" "$H")" 200 "processed"
is "$(deliver "$WORK/paid.json" "$H")" 200 "duplicate"
H2=$(sign "$WORK/paid.json" "$OLD_SECRET")
is "$(deliver "$WORK/paid.json" "$H2")" 200 "duplicate signed with the older active secret"

printf '%s' "$(sed 's/"amount_total": 6000/"amount_total": 6001/' "$WORK/paid.json")" >"$WORK/tampered.json"
is "$(deliver "$WORK/tampered.json" "$H")" 400 "tampered body"
is "$(deliver "$WORK/paid.json" "$(sign "$WORK/paid.json" "whsec_wrong$PAYLOAD_MARK")")" 400 "wrong secret"
is "$(deliver "$WORK/paid.json" "")" 400 "missing header"
is "$(deliver "$WORK/paid.json" "t=garbage,v1=${MARK}deadbeef")" 400 "malformed header"
printf 'not json %s {' "$PAYLOAD_MARK" >"$WORK/notjson.txt"
is "$(deliver "$WORK/notjson.txt" "$(sign "$WORK/notjson.txt")")" 400 "not JSON"
printf '{"object": "event", "id": "nope", "note": "%s"}' "$PAYLOAD_MARK" >"$WORK/notevent.json"
is "$(deliver "$WORK/notevent.json" "$(sign "$WORK/notevent.json")")" 400 "not a Stripe event"
printf '%s' "$(sed 's/"type": "checkout.session.completed"/"type": "invoice.paid"/; s/evt_log_paid1/evt_log_other1/' "$WORK/paid.json")" >"$WORK/other.json"
is "$(deliver "$WORK/other.json" "$(sign "$WORK/other.json")")" 200 "ignored type"

event evt_log_nocart cs_test_log_nc 8999 u8999 >"$WORK/nocart.json"
is "$(deliver "$WORK/nocart.json" "$(sign "$WORK/nocart.json")")" 422 "permanent failure (unknown cart)"
is "$(q -c "SELECT (stripe_webhook.stripe_replay_event('evt_log_nocart')) ->> 'status'" 2>/dev/null)" 422 "replay of the failed event"

# A real lock timeout: another session holds the cart.
event evt_log_locked cs_test_log2 8002 8002 >"$WORK/locked.json"
psql -qX -d "$DB" -c "BEGIN; SELECT 1 FROM stripe_webhook.carts WHERE id = 8002 FOR UPDATE; SELECT pg_sleep(60); COMMIT;" \
    >/dev/null 2>&1 &
LOCK_PID=$!
HOLDER=
for _ in $(seq 1 100); do
    HOLDER=$(q -c "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                   WHERE c.relname = 'carts' AND l.mode = 'RowShareLock' AND l.pid <> pg_backend_pid() LIMIT 1")
    [ -n "$HOLDER" ] && break
    sleep 0.1
done
is "$(deliver "$WORK/locked.json" "$(sign "$WORK/locked.json")" "SET lock_timeout = '200ms'; ")" 503 \
    "transient failure (lock timeout)"
[ -n "$HOLDER" ] && q -c "SELECT pg_terminate_backend($HOLDER)" >/dev/null
wait "$LOCK_PID" 2>/dev/null
LOCK_PID=

q -c "UPDATE stripe_webhook.signing_secrets SET expires_at = now() - interval '1 second'" >/dev/null
is "$(deliver "$WORK/paid.json" "$H")" 500 "no active secret"

# A control: a statement that does fail is logged with its text, so the log
# being read is the right one and a raised error would have been caught.
q -c "SELECT 'CONTROL${MARK}'::int" >/dev/null 2>&1

# Give the logger a moment, then read what was written since START.
sleep 0.5
tail -c +"$((START + 1))" "$SW_PGLOG" >"$WORK/log.txt"

grep -q "CONTROL${MARK}" "$WORK/log.txt"
ok $? "control: the failing statement is in the log (the right log is read)"
grep -q "stripe event evt_log_paid1 (checkout.session.completed): order created" "$WORK/log.txt"
ok $? "the processing steps are logged (event id, type, outcome)"
grep -q "stripe event evt_log_nocart (checkout.session.completed) failed" "$WORK/log.txt"
ok $? "the permanent failure is logged as a WARNING"
grep -q "stripe event evt_log_locked (checkout.session.completed) hit a transient error" "$WORK/log.txt"
ok $? "the transient failure is logged as a WARNING"

grep -c -F -- "$SECRET" "$WORK/log.txt" >/dev/null
ok $((! $?)) "the signing secret never appears in the log"
grep -c -F -- "$OLD_SECRET" "$WORK/log.txt" >/dev/null
ok $((! $?)) "the older signing secret never appears in the log"
grep -c -F -- "LOGSECRET$MARK" "$WORK/log.txt" >/dev/null
ok $((! $?)) "no part of a secret appears in the log"
found=0
for s in $(cat "$WORK/sigs.txt"); do grep -q -F -- "$s" "$WORK/log.txt" && found=$((found + 1)); done
is "$found" 0 "none of the $(wc -l <"$WORK/sigs.txt") v1 signatures appears in the log"
grep -q -F -- "${MARK}deadbeef" "$WORK/log.txt"
ok $((! $?)) "the malformed header does not appear in the log"
grep -q -F -- "$PAYLOAD_MARK" "$WORK/log.txt"
ok $((! $?)) "nothing of any payload appears in the log" "$(grep -F -- "$PAYLOAD_MARK" "$WORK/log.txt" | head -3)"
grep -q -F -- '"amount_total"' "$WORK/log.txt"
ok $((! $?)) "no payload field appears in the log"

echo "1..$N"
[ "$FAILED" -eq 0 ]
