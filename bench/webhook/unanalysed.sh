#!/usr/bin/env bash
# bench/webhook/unanalysed.sh: what a delivery costs when the events table
# has grown since it was last analysed (the README's troubleshooting row).
#
#   ./bench/webhook/unanalysed.sh [ADDED_EVENTS]     (default 100000)
#
# A throwaway cluster with autovacuum off: the shop's tables are filled and
# analysed while `events` is empty.  One connection (so its kept plans live
# across the steps, as a relay's pooled connection's do) then measures its
# backend's CPU time per delivery (/proc/<pid>/schedstat) over 200
# checkout.session.completed deliveries each (signed in the same statement
# with stripe_signature_header()):
#   1. events nearly empty;
#   2. after ADDED_EVENTS more events are inserted, no ANALYZE;
#   3. right after ANALYZE stripe_webhook.events.
# Every delivery must answer 200.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

ADDED=${1:-100000}
sw_ensure_packages python3-psycopg2
sw_build_stage
sw_cluster_start unanalysed "synchronous_commit = off" "autovacuum = off" "stripe_webhook.log_level = debug1"
trap sw_cluster_stop EXIT

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION stripe_webhook;
INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT g, 'product ' || g, 100, 2000000000 FROM generate_series(1, 1000) g;
INSERT INTO stripe_webhook.carts (id, user_id) SELECT g, 'u' || g FROM generate_series(1, 1000) g;
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c, 1 + (c * 7 + k * 331) % 1000, 1 FROM generate_series(1, 1000) c, generate_series(0, 2) k;
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('stripe_webhook.carts', 'id'), 1000);
VACUUM ANALYZE;
SQL

/usr/bin/python3 - "host=$PGHOST port=$PGPORT dbname=postgres user=postgres" "$ADDED" <<'PY'
import json, sys, time
import psycopg2

dsn, added = sys.argv[1], int(sys.argv[2])
secret = "whsec_unanalysed_bench"
conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (%s)", (secret,))
cur.execute("SELECT pg_backend_pid()")
pid = cur.fetchone()[0]
cart = 0

def cpu_us():
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0]) / 1000.0

def deliver():
    global cart
    cart += 1
    body = json.dumps({
        "id": "evt_unanalysed_%d" % cart, "object": "event", "type": "checkout.session.completed",
        "api_version": "2025-03-31.basil", "created": int(time.time()), "livemode": False,
        "data": {"object": {
            "id": "cs_unanalysed_%d" % cart, "object": "checkout.session", "payment_status": "paid",
            "metadata": {"user_id": "u%d" % cart, "cart_id": str(cart)},
            "currency": "usd", "amount_subtotal": 300, "amount_total": 300,
            "customer_details": {"email": "u%d@example.com" % cart}}}})
    # signed just before the call, by the extension's own signer
    cur.execute("SELECT stripe_webhook.stripe_handle_webhook(b, stripe_webhook.stripe_signature_header(b, %s)) ->> 'status'"
                " FROM (SELECT %s::text AS b) s", (secret, body))
    status = cur.fetchone()[0]
    if status != "200":
        sys.exit("delivery %d answered %s" % (cart, status))

def measure(label, n=200):
    start = cpu_us()
    for _ in range(n):
        deliver()
    print("%-52s %7.0f us of backend CPU per delivery" % (label, (cpu_us() - start) / n))

for _ in range(20):
    deliver()
measure("1. events nearly empty:")
admin = psycopg2.connect(dsn)
admin.autocommit = True
admin.cursor().execute(
    "INSERT INTO stripe_webhook.events (id, type, status, attempts, processed_at, payload) "
    "SELECT 'evt_filler_' || g, 'payment_intent.created', 'ignored', 1, now(), '{}' "
    "FROM generate_series(1, %s) g", (added,))
measure("2. %d more events, not analysed:" % added)
admin.cursor().execute("ANALYZE stripe_webhook.events")
measure("3. right after ANALYZE stripe_webhook.events:")
PY
