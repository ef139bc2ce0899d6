#!/usr/bin/env bash
# test/e2e/20_fulfil_storm.t: many concurrent clients (pgbench) deliver
# Checkout Session events at random -- completed (paid and unpaid), duplicate
# payments for one cart, async success and failure, expiry, and every one of
# them many times over -- against carts that share a few products with too
# little stock.  Then the shop's invariants (test/lib/invariants.sql) must
# hold, and every caller must have been given its session's order id.
#
# Runs in its own database on the runner's cluster (PGHOST/PGPORT/PGUSER)
# and drops it afterwards.  Takes about 20 s; SW_STORM_SECONDS changes the
# pgbench run time.
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
DB="sw_storm_$$"
SECS=${SW_STORM_SECONDS:-12}
CLIENTS=16
WORK=$(mktemp -d /tmp/sw-storm.XXXXXX)
chmod 755 "$WORK"
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else notok "$3"; echo "#   got: $1"; echo "#  want: $2"; fi; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }

cleanup() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "1..14"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || { notok "create database"; exit 1; }
if q -c "CREATE EXTENSION stripe_webhook" >/dev/null; then ok "extension created in fresh database $DB"; else notok "create extension"; exit 1; fi

# Shop: 12 products with scarce stock; 4000 users, each with an active cart and
# a cart the application locked itself, every cart 3 distinct products x 1..3.
# One session per cart; every 5th is a delayed (unpaid) payment that later
# succeeds or fails; every 11th cart is paid twice (a second session); every
# 13th has an earlier session that expired; every 17th session's subtotal is
# wrong.  storm_events lists every event; pgbench picks them at random.
q <<'SQL' >/dev/null || { notok "storm data"; exit 1; }
SET client_min_messages = warning;
INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT g, 'storm product ' || g, 100 * g, 600 FROM generate_series(1, 12) g;
INSERT INTO stripe_webhook.carts (id, user_id, locked, locked_at)
SELECT c, (1 + (c - 1) / 2)::text, c % 2 = 0, CASE WHEN c % 2 = 0 THEN now() END
  FROM generate_series(1, 8000) c;
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c, 1 + ((c * 7 + k * 5) % 12), 1 + (c + k) % 3
  FROM generate_series(1, 8000) c, generate_series(0, 2) k;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), 100000);
CREATE TABLE sw_initial_stock AS SELECT id AS product_id, stock FROM stripe_webhook.products;

CREATE FUNCTION storm_session(c bigint, sid text, status text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'object', 'checkout.session', 'id', sid,
        'metadata', jsonb_build_object('user_id', (1 + (c - 1) / 2)::text, 'cart_id', c::text),
        'payment_status', status, 'payment_intent', 'pi_' || sid,
        'currency', 'usd',
        'amount_subtotal', (SELECT sum(ci.quantity * p.price_amount) + CASE WHEN c % 17 = 0 THEN 1 ELSE 0 END
                              FROM stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id
                             WHERE ci.cart_id = c),
        'amount_total', 999,
        'customer_details', jsonb_build_object('email', 'u' || c || '@example.com', 'address', NULL),
        'collected_information', jsonb_build_object('shipping_details', jsonb_build_object(
            'name', 'Storm ' || c, 'address', jsonb_build_object('line1', c || ' Storm St', 'line2', NULL,
                'city', 'Gale', 'state', NULL, 'postal_code', '00000', 'country', 'US'))))
$$;
CREATE TABLE storm_events (n serial PRIMARY KEY, type text NOT NULL, session jsonb NOT NULL);
INSERT INTO storm_events (type, session)
SELECT 'checkout.session.completed', storm_session(c, 'cs_storm_' || c, CASE WHEN c % 5 = 0 THEN 'unpaid' ELSE 'paid' END)
  FROM generate_series(1, 8000) c
UNION ALL
SELECT CASE WHEN c % 10 = 0 THEN 'checkout.session.async_payment_succeeded' ELSE 'checkout.session.async_payment_failed' END,
       storm_session(c, 'cs_storm_' || c, CASE WHEN c % 10 = 0 THEN 'paid' ELSE 'unpaid' END)
  FROM generate_series(5, 8000, 5) c
UNION ALL
SELECT 'checkout.session.completed', storm_session(c, 'cs_storm_' || c || '_second', 'paid')
  FROM generate_series(11, 8000, 11) c
UNION ALL
SELECT 'checkout.session.expired', storm_session(c, 'cs_storm_' || c || '_expired', 'unpaid')
  FROM generate_series(13, 8000, 13) c;
CREATE TABLE storm_calls (n int, type text, session_id text, order_id uuid, message text);
SQL
ok "storm data: 12 products, 4000 users, 8000 carts, $(q -c 'SELECT count(*) FROM storm_events') events"

# each pgbench transaction delivers one random event and logs what it returned
cat >"$WORK/storm.sql" <<'EOF'
\set n random(1, :nevents)
INSERT INTO storm_calls
SELECT e.n, e.type, e.session->>'id', (r.res->>'order_id')::uuid, r.res->>'message'
  FROM storm_events e, stripe_webhook.stripe_apply_session_event(e.type, e.session) AS r(res)
 WHERE e.n = :n;
EOF
NEV=$(q -c 'SELECT count(*) FROM storm_events')
PGOPTIONS="-c client_min_messages=error -c stripe_webhook.log_level=debug1" \
    pgbench -n --failures-detailed --verbose-errors -c "$CLIENTS" -j 2 -T "$SECS" -D nevents="$NEV" -f "$WORK/storm.sql" "$DB" >"$WORK/pgbench.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/pgbench.out" | grep -E 'processed|failed|failures|tps|aborted|ERROR' | head -8
if [ $rc -eq 0 ] && ! grep -qE 'ERROR|aborted|failed transactions: [1-9]' "$WORK/pgbench.out"; then
    ok "pgbench: $CLIENTS clients for ${SECS}s, no errors, no deadlocks"
else
    notok "pgbench ran without errors (exit $rc)"
    grep -E 'ERROR|DETAIL|aborted' "$WORK/pgbench.out" | head -5 | sed 's/^/#   /'
fi

calls=$(q -c "SELECT count(*) FROM storm_calls")
dups=$(q -c "SELECT count(*) - count(DISTINCT n) FROM storm_calls")
if [ "$calls" -ge 2000 ] && [ "$dups" -ge 200 ]; then
    ok "storm delivered $calls events, $dups of them repeats"
else
    notok "storm delivered enough events (got $calls calls, $dups repeats)"
fi

# the shop's invariants
q -f "$ROOT/test/lib/invariants.sql" >"$WORK/violations.out" 2>&1
if [ $? -eq 0 ] && [ ! -s "$WORK/violations.out" ]; then
    ok "invariants hold: one order per session, items = cart, stock = initial - taken >= 0, shortfalls flagged, one active cart per user"
else
    notok "invariants hold"
    head -20 "$WORK/violations.out" | sed 's/^/#   /'
fi

# every caller of a session got that session's order id
check "$(q -c "SELECT count(*) FROM storm_calls c JOIN stripe_webhook.orders o ON o.checkout_session_id = c.session_id
                WHERE c.order_id IS DISTINCT FROM o.id AND c.order_id IS NOT NULL")" 0 \
      "every call returned its session's one order id"
check "$(q -c "SELECT count(*) FROM (SELECT DISTINCT session_id FROM storm_calls
                                      WHERE type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')) s
                WHERE NOT EXISTS (SELECT FROM stripe_webhook.orders o WHERE o.checkout_session_id = s.session_id)")" 0 \
      "every delivered completed/succeeded session has an order"
check "$(q -c "SELECT count(*) FROM storm_calls c WHERE c.type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
                                                     AND c.order_id IS NULL")" 0 \
      "no completed/succeeded call went without an order id"
check "$(q -c "SELECT count(*) FROM stripe_webhook.orders o
                WHERE NOT EXISTS (SELECT FROM storm_calls c WHERE c.session_id = o.checkout_session_id)")" 0 \
      "no order without a delivered event"
check "$(q -c "SELECT count(*) FROM stripe_webhook.orders o JOIN stripe_webhook.carts c ON c.id = o.cart_id
                WHERE c.checkout_session_id IS DISTINCT FROM o.checkout_session_id
                  AND o.status NOT IN ('needs_review', 'cancelled')")" 0 \
      "of several paid sessions for one cart, only the one that locked the cart is not flagged"
check "$(q -c "SELECT count(*) FROM stripe_webhook.orders WHERE status = 'pending' AND checkout_session_id IN
                (SELECT session_id FROM storm_calls WHERE type = 'checkout.session.async_payment_succeeded')")" 0 \
      "no order stays pending after its payment succeeded"
check "$(q -c "SELECT count(*) FROM stripe_webhook.orders WHERE payment_status = 'paid' AND checkout_session_id IN
                (SELECT session_id FROM storm_calls WHERE type = 'checkout.session.async_payment_failed')
                AND status <> 'needs_review'")" 0 \
      "an order whose payment failed is never paid without review"

# the storm exercised the interesting paths
stats=$(q -F' ' -c "SELECT (SELECT count(*) FROM stripe_webhook.order_items WHERE shortfall > 0) > 0,
                           (SELECT count(*) FROM stripe_webhook.orders WHERE review_reason LIKE 'duplicate payment%') > 0,
                           (SELECT count(*) FROM stripe_webhook.orders WHERE status = 'cancelled') > 0,
                           (SELECT count(*) FROM stripe_webhook.checkout_sessions WHERE outcome = 'expired') > 0")
check "$stats" "t t t t" "the storm hit shortfalls, duplicate payments, cancellations and expiries"
echo "# $(q -F' ' -c "SELECT 'orders', count(*), 'confirmed', count(*) FILTER (WHERE status = 'confirmed'),
                          'needs_review', count(*) FILTER (WHERE status = 'needs_review'),
                          'pending', count(*) FILTER (WHERE status = 'pending'),
                          'cancelled', count(*) FILTER (WHERE status = 'cancelled') FROM stripe_webhook.orders")"
check "$(q -c "SELECT min(stock) >= 0 FROM stripe_webhook.products")" "t" "stock never negative"

[ "$fails" -eq 0 ]
