#!/usr/bin/env bash
# test/e2e/82_hostile_http.t: hostile requests through stripe-webhook-relay.
#
# On the runner's cluster (a fresh database, dropped afterwards) with the
# relay on a free port, as its least-privilege role.  Every body is signed
# correctly over its exact bytes (unless the signature is the attack), so it
# is the relay and the handler that must refuse it.  Each case asserts the
# HTTP status AND that nothing was written (events, orders, order items,
# carts, stock; only a rejected delivery's counter may move), except SQL in
# metadata, which the handler records as a failed event by design.  At the
# end a burst of 64 concurrent hostile requests, then a valid delivery must
# still create its order, the relay must still run and no backend may have
# crashed.  The same catalogue straight against the SQL function is
# test/pgtap/40_hostile.sql.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

PY=/usr/bin/python3
TEMPLATE=$SW_ROOT/test/fixtures/event.checkout.session.completed.paid.json
SECRET=whsec_hostile_http_$RANDOM$RANDOM
WORK=$(mktemp -d /tmp/sw-hostile.XXXXXX)
DB=sw_hostile_http_$$
RELAY_PID=
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"

cleanup() {
    [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

q() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "$1"
}

# make_cases: every request body of this test (NAME.body) and its
# Stripe-Signature (NAME.sig), signed now over the exact bytes.
make_cases() {
    "$PY" - "$TEMPLATE" "$WORK" "$SECRET" <<'PY'
import hashlib, hmac, json, sys, time
tmpl, work, secret = sys.argv[1:]
now = str(int(time.time()))

def event(evt, cart, user):
    ev = json.load(open(tmpl))
    ev["id"] = evt
    ev["data"]["object"]["id"] = "cs_test_" + evt[4:]
    ev["data"]["object"]["metadata"] = {"user_id": user, "cart_id": cart}
    return json.dumps(ev, indent=2).encode()

def sig(body, t=now):
    return "t=%s,v1=%s" % (t, hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest())

def case(name, body, header=None):
    open("%s/%s.body" % (work, name), "wb").write(body)
    open("%s/%s.sig" % (work, name), "wb").write((header or sig(body)).encode("utf-8", "surrogateescape"))

hdr = event("evt_HostileHdr", "2", "attacker")
case("hdr", hdr)
case("big", hdr[:-2] + b', "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}')
case("nul", hdr.replace(b'"attacker"', b'"attack\x00er"'))
for bad in ("ff", "c0af", "eda080", "f4908080"):
    case("utf" + bad, hdr.replace(b'"attacker"', b'"attack' + bytes.fromhex(bad) + b'er"'))
case("hdrutf", hdr, "t=1,v1=\udcff\udcfe")
case("sqlhdr", hdr, "t=1'; DROP TABLE stripe_webhook.events; --,v1=" + "0" * 64)
case("old", hdr, sig(hdr, "1"))
case("swap", hdr, sig(event("evt_HostileOther", "1", "victim")))
case("deep", b"[" * (512 * 1024) + b"]" * (512 * 1024 - 1))
case("array", b"[" + hdr + b"]")
case("dupobj", hdr.rstrip()[:-1] + b', "object": "charge"}')
case("sqlmeta", event("evt_HostileSqlMeta", "1; DELETE FROM stripe_webhook.products",
                      "victim'; DROP TABLE stripe_webhook.orders; --"))
case("honest", event("evt_HostileHonest", "3", "honest"))
PY
}

# post NAME [curl args]: POST NAME.body with NAME.sig; prints "STATUS BODY".
post() {
    local name=$1
    shift
    rm -f "$WORK/reply"
    curl -s -m 60 -o "$WORK/reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json; charset=utf-8' \
        -H "Stripe-Signature: $(cat "$WORK/$name.sig")" \
        --data-binary @"$WORK/$name.body" "$@" "$URL/api/payments/stripe_webhook/"
    printf ' %s' "$(head -c 300 "$WORK/reply" 2>/dev/null)"
}

# --- setup -------------------------------------------------------------------

psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || exit 1
psql -qX -v ON_ERROR_STOP=1 -d "$DB" -v secret="$SECRET" >/dev/null <<SQL || exit 1
CREATE EXTENSION stripe_webhook;
\i $SW_ROOT/sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (:'secret');
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (1, 'Espresso cup', 1500, 'usd', 100), (2, 'Coffee beans', 2500, 'usd', 100);
INSERT INTO stripe_webhook.carts (id, user_id) VALUES (1, 'victim'), (2, 'attacker'), (3, 'honest');
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c, p, q FROM generate_series(1, 3) c, (VALUES (1, 2), (2, 1)) AS i(p, q);
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), 3);
SQL

PORT=$(sw_free_port)
URL=http://127.0.0.1:$PORT
start_relay() {
    local i
    "$SW_BINDIR/stripe-webhook-relay" \
        --database-url "host=$PGHOST port=$PGPORT dbname=$DB user=stripe_webhook_relay" \
        --listen "127.0.0.1:$PORT" --pool-size 4 >>"$WORK/relay.log" 2>&1 &
    RELAY_PID=$!
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$URL/healthz")" = 200 ] && return 0
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}
start_relay || { PORT=$(sw_free_port); URL=http://127.0.0.1:$PORT; start_relay; }
ok $? "relay runs as stripe_webhook_relay"
CRASHES0=$(grep -c 'terminated by signal' "${SW_PGLOG:-/dev/null}" 2>/dev/null)

# expect NAME STATUS-REGEX WHAT [counted]: post NAME; the answer matches,
# nothing is written, except one more rejection counted with "counted".
expect() {
    local name=$1 want=$2 what=$3 s0 r c
    s0=$(sw_shop_state "$DB")
    r=$(post "$name")
    like "$r" "^$want" "$what"
    c=${s0##* }
    [ "${4:-}" = counted ] && c=$((c + 1))
    is "$(sw_shop_state "$DB")" "${s0% *} $c" "$what: nothing written${4:+ but the rejection counter}"
}

# unchanged: the shop without the counter.
unchanged() {
    local s
    s=$(sw_shop_state "$DB")
    echo "${s% *}"
}

# --- bodies the relay refuses before the database --------------------------

make_cases
START=$(unchanged)
expect big '413 ' "10 MB correctly signed event (Content-Length): 413"
R=$(post big -H 'Transfer-Encoding: chunked' -H 'Expect:')
like "$R" '^(413|000) ' "10 MB chunked: 413 or the connection cut, never passed on"
is "$(unchanged)" "$START" "10 MB chunked: nothing written"
expect nul '400 .*NUL' "NUL byte inside a correctly signed body: 400"
for bad in ff c0af eda080 f4908080; do
    expect "utf$bad" '400 .*UTF-8' "invalid UTF-8 (0x$bad) inside a correctly signed body: 400"
done
expect hdrutf '400 ' "invalid UTF-8 in the Stripe-Signature header: 400"

# --- headers -------------------------------------------------------------------

# (too long for a command-line argument: sent from Python)
R=$("$PY" - "$URL" "$WORK/hdr.body" "$WORK/hdr.sig" <<'PY'
import http.client, sys, urllib.parse
url, body, sig = sys.argv[1:]
u = urllib.parse.urlsplit(url)
t, v1 = open(sig).read().strip().split(",")
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
try:
    c.request("POST", "/api/payments/stripe_webhook/", body=open(body, "rb").read(),
              headers={"Stripe-Signature": t + "," + ",".join(["v1=" + "0" * 64] * 5000) + "," + v1})
    r = c.getresponse()
    print(r.status, r.read()[:200].decode("utf-8", "replace"))
except (BrokenPipeError, ConnectionResetError) as e:
    print("closed", type(e).__name__)
PY
)
like "$R" '^(4[0-9][0-9]|closed) ' "5000 signatures (340 kB header): refused (a 4xx, or the connection closed mid-header)"
is "$(unchanged)" "$START" "5000 signatures: nothing written"
expect sqlhdr '400 .*Unable to extract' "SQL in the Stripe-Signature header: 400" counted
expect old '400 .*tolerance' "correctly signed with t=1 (1970): 400" counted
expect swap '400 .*No signatures found matching' "a valid signature over a different body: 400" counted

# --- bodies the handler refuses ----------------------------------------------------

expect deep '400 .*not valid JSON' "1 MiB of nested arrays, correctly signed: 400"
expect array '400 .*not a JSON object' "a valid event wrapped in an array: 400"
expect dupobj '400 .*not a Stripe event' "duplicate \"object\" key, the last not \"event\": 400"
R=$(post sqlmeta)
like "$R" '^422 .*"sqlstate": "SW203"' "SQL in metadata: 422 SW203"
is "$(unchanged | cut -d' ' -f2-) $(q "SELECT status FROM stripe_webhook.events WHERE id = 'evt_HostileSqlMeta'")" \
    "$(echo "$START" | cut -d' ' -f2-) failed" "SQL in metadata: shop unchanged, the event recorded as failed only"

# --- a burst of hostile requests, then business as usual ---------------------------

"$PY" - "$URL" "$WORK" <<'PY' >"$WORK/burst.out"
import http.client, sys, threading, urllib.parse
url, work = sys.argv[1:]
u = urllib.parse.urlsplit(url)
cases = ["deep", "utfff", "nul", "swap", "old", "array", "sqlhdr"]
statuses = []
lock = threading.Lock()
def one(i):
    name = cases[i % len(cases)]
    body = open("%s/%s.body" % (work, name), "rb").read()
    sig = open("%s/%s.sig" % (work, name), "rb").read().strip()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        c.putrequest("POST", "/api/payments/stripe_webhook/")
        c.putheader("Stripe-Signature", sig)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        c.send(body)
        s = c.getresponse().status
    except Exception as e:
        s = type(e).__name__
    with lock:
        statuses.append(s)
threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(sorted(set(str(s) for s in statuses))))
PY
like "$(cat "$WORK/burst.out")" '^(400|503)( (400|503))*$' \
    "64 concurrent hostile requests: each refused with 400 (or 503 when the pool is busy)"
is "$(unchanged | cut -d' ' -f2-)" "$(echo "$START" | cut -d' ' -f2-)" "the burst wrote nothing"

R=$(post honest)
like "$R" '^200 .*order created' "afterwards a valid delivery still creates its order"
kill -0 "$RELAY_PID"
ok $? "the relay is still running"
CRASHES=$(grep -c 'terminated by signal' "${SW_PGLOG:-/dev/null}" 2>/dev/null)
is "$CRASHES" "$CRASHES0" "no server process crashed"
LEAK=0
for s in "$SECRET" "DROP TABLE" attacker "$(cut -d= -f3 "$WORK/honest.sig")"; do
    grep -qF -- "$s" "$WORK/relay.log" && { LEAK=1; echo "# found in the relay log: ${s:0:12}..."; }
done
ok $LEAK "the relay's log shows no secret, signature or body content"

kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
is "$?" 0 "the relay exits 0 on SIGTERM"
RELAY_PID=

echo "1..$N"
[ "$FAILED" -eq 0 ]
