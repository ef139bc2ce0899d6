#!/usr/bin/env bash
# test/e2e/21_holds_storm.t: concurrent clients (pgbench) hold carts
# (reserve_cart, also a second session for the same cart), release holds
# (release_hold, release_expired_holds after making a hold lapse) and deliver
# Checkout Session events at random (completed paid and unpaid, async success
# and failure, expiry), every one many times over, against carts that share
# a few products with too little stock.  Then: no error and no deadlock; the
# shop's invariants (test/lib/invariants.sql: stock = initial - what orders
# hold - what open holds hold, never negative); no session both holds stock
# and has an order or an outcome; at most one open hold per cart; and once
# every open hold is released, the stock is exactly initial - what orders
# hold.
#
# Runs in its own database on the runner's cluster (PGHOST/PGPORT/PGUSER)
# and drops it afterwards.  Takes about 15 s; SW_STORM_SECONDS changes the
# pgbench run time.
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
DB="sw_holdstorm_$$"
SECS=${SW_STORM_SECONDS:-10}
CLIENTS=8
WORK=$(mktemp -d /tmp/sw-holdstorm.XXXXXX)
chmod 755 "$WORK"
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else notok "$3"; echo "#   got: $1"; echo "#  want: $2"; fi; }
q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }

cleanup() {
    [ -n "${SW_KEEP_DB:-}" ] || psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "1..11"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || { notok "create database"; exit 1; }
if q -c "CREATE EXTENSION stripe_webhook" >/dev/null; then ok "extension created in fresh database $DB"; else notok "create extension"; exit 1; fi

# Shop: 8 products with scarce stock; 1000 users with one cart each, every
# cart 3 distinct products x 1..3.  Per cart: a session cs_hs_<c> that is
# held, completed (every 4th unpaid, then succeeding or failing) or expired,
# and a second session cs_hs_<c>_b that holds the same cart again.
q <<'SQL' >/dev/null || { notok "storm data"; exit 1; }
SET client_min_messages = warning;
INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT g, 'hold storm product ' || g, 100 * g, 250 FROM generate_series(1, 8) g;
INSERT INTO stripe_webhook.carts (id, user_id) SELECT c, 'hs-user-' || c FROM generate_series(1, 1000) c;
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c, 1 + ((c * 5 + k * 3) % 8), 1 + (c + k) % 3 FROM generate_series(1, 1000) c, generate_series(0, 2) k;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), 100000);
CREATE TABLE sw_initial_stock AS SELECT id AS product_id, stock FROM stripe_webhook.products;

CREATE FUNCTION hs_session(c bigint, sid text, status text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'object', 'checkout.session', 'id', sid,
        'metadata', jsonb_build_object('user_id', 'hs-user-' || c, 'cart_id', c::text),
        'payment_status', status, 'currency', 'usd',
        'amount_subtotal', (SELECT sum(ci.quantity * p.price_amount)
                              FROM stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id
                             WHERE ci.cart_id = c),
        'amount_total', 999)
$$;
-- one call: an event, a hold, a release; the refusals a hold may meet in a
-- storm (short stock, a cart checked out, a session already used) are
-- answered, not raised, so that pgbench fails only on anything else
CREATE FUNCTION hs_call(kind text, c bigint, sid text, s jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF kind = 'hold' THEN
        RETURN stripe_webhook.reserve_cart(c, sid, now() + interval '1 hour')->>'created';
    ELSIF kind = 'release' THEN
        RETURN stripe_webhook.release_hold(sid)::text;
    ELSIF kind = 'lapse' THEN
        RETURN stripe_webhook.release_expired_holds()::text;
    END IF;
    RETURN stripe_webhook.stripe_apply_session_event(kind, s)->>'message';
EXCEPTION WHEN SQLSTATE 'SW501' OR SQLSTATE 'SW503' THEN
    RETURN SQLSTATE;
END
$$;
CREATE TABLE hs_events (n serial PRIMARY KEY, kind text NOT NULL, cart bigint NOT NULL, sid text NOT NULL, session jsonb);
INSERT INTO hs_events (kind, cart, sid, session)
SELECT 'hold', c, 'cs_hs_' || c, NULL::jsonb FROM generate_series(1, 1000) c
UNION ALL SELECT 'hold', c, 'cs_hs_' || c || '_b', NULL FROM generate_series(3, 1000, 3) c
UNION ALL SELECT 'release', c, 'cs_hs_' || c, NULL FROM generate_series(7, 1000, 7) c
UNION ALL SELECT 'lapse', c, 'cs_hs_' || c, NULL FROM generate_series(5, 1000, 5) c
UNION ALL SELECT 'checkout.session.completed', c, 'cs_hs_' || c,
                 hs_session(c, 'cs_hs_' || c, CASE WHEN c % 4 = 0 THEN 'unpaid' ELSE 'paid' END)
            FROM generate_series(1, 1000) c WHERE c % 6 <> 0
UNION ALL SELECT CASE WHEN c % 8 = 0 THEN 'checkout.session.async_payment_succeeded'
                      ELSE 'checkout.session.async_payment_failed' END, c, 'cs_hs_' || c,
                 hs_session(c, 'cs_hs_' || c, CASE WHEN c % 8 = 0 THEN 'paid' ELSE 'unpaid' END)
            FROM generate_series(4, 1000, 4) c
UNION ALL SELECT 'checkout.session.expired', c, 'cs_hs_' || c, hs_session(c, 'cs_hs_' || c, 'unpaid')
            FROM generate_series(6, 1000, 6) c
UNION ALL SELECT 'checkout.session.completed', c, 'cs_hs_' || c || '_b', hs_session(c, 'cs_hs_' || c || '_b', 'paid')
            FROM generate_series(9, 1000, 9) c;
CREATE TABLE hs_calls (n int, kind text, sid text, result text);
SQL
ok "storm data: 8 products, 1000 carts, $(q -c 'SELECT count(*) FROM hs_events') calls to pick from"

# each pgbench transaction makes one random call; a lapse first moves the
# session's hold past its expires_at (its own transaction)
cat >"$WORK/storm.sql" <<'EOF'
\set n random(1, :nevents)
UPDATE stripe_webhook.holds h SET expires_at = now() - interval '1 second'
  FROM hs_events e WHERE e.n = :n AND e.kind = 'lapse' AND h.checkout_session_id = e.sid AND h.status = 'held';
INSERT INTO hs_calls SELECT e.n, e.kind, e.sid, hs_call(e.kind, e.cart, e.sid, e.session) FROM hs_events e WHERE e.n = :n;
EOF
NEV=$(q -c 'SELECT count(*) FROM hs_events')
PGOPTIONS="-c client_min_messages=error" \
    pgbench -n --failures-detailed --verbose-errors -c "$CLIENTS" -j 2 -T "$SECS" -D nevents="$NEV" -f "$WORK/storm.sql" "$DB" >"$WORK/pgbench.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/pgbench.out" | grep -E 'processed|failed|failures|tps|aborted|ERROR' | head -8
if [ $rc -eq 0 ] && ! grep -qE 'ERROR|aborted|failed transactions: [1-9]' "$WORK/pgbench.out"; then
    ok "pgbench: $CLIENTS clients for ${SECS}s, no errors, no deadlocks"
else
    notok "pgbench ran without errors (exit $rc)"
    grep -E 'ERROR|DETAIL|aborted' "$WORK/pgbench.out" | head -5 | sed 's/^/#   /'
fi

stats=$(q -F' ' -c "SELECT count(*) >= 1000,
                           count(*) FILTER (WHERE kind = 'hold' AND result = 'true') > 0,
                           count(*) FILTER (WHERE kind = 'hold' AND result = 'false') > 0,
                           count(*) FILTER (WHERE kind = 'hold' AND result = 'SW501') > 0,
                           (SELECT count(*) FROM stripe_webhook.holds WHERE status = 'ordered') > 0,
                           (SELECT count(*) FROM stripe_webhook.holds WHERE release_reason = 'replaced') > 0,
                           (SELECT count(*) FROM stripe_webhook.holds WHERE release_reason = 'expired') > 0,
                           (SELECT count(*) FROM stripe_webhook.holds WHERE release_reason = 'lapsed') > 0,
                           (SELECT count(*) FROM stripe_webhook.holds WHERE release_reason = 'released') > 0
                      FROM hs_calls")
check "$stats" "t t t t t t t t t" \
      "the storm made 1000+ calls: new holds, repeated holds, short stock, holds ordered, replaced, expired, lapsed and released"
echo "# $(q -F' ' -c "SELECT status, coalesce(release_reason, '-'), count(*) FROM stripe_webhook.holds GROUP BY 1, 2 ORDER BY 1, 2" | tr '\n' ';')"

q -f "$ROOT/test/lib/invariants.sql" >"$WORK/violations.out" 2>&1
if [ $? -eq 0 ] && [ ! -s "$WORK/violations.out" ]; then
    ok "invariants hold: stock = initial - what orders hold - what open holds hold, >= 0; one order per session; items = cart"
else
    notok "invariants hold"
    head -20 "$WORK/violations.out" | sed 's/^/#   /'
fi
check "$(q -c "SELECT count(*) FROM stripe_webhook.holds h JOIN stripe_webhook.checkout_sessions s ON s.id = h.checkout_session_id
                WHERE h.status = 'held'")" 0 \
      "no session holds stock while it has an order or a recorded expiry or failure"
check "$(q -c "SELECT count(*) FROM (SELECT cart_id FROM stripe_webhook.holds WHERE status = 'held'
                                      GROUP BY cart_id HAVING count(DISTINCT checkout_session_id) > 1) x")" 0 \
      "at most one open hold per cart"
check "$(q -c "SELECT count(*) FROM stripe_webhook.holds h
                 JOIN stripe_webhook.order_lines l ON l.order_id = h.order_id AND l.product_id = h.product_id
                 JOIN stripe_webhook.orders o ON o.id::text = h.order_id
                WHERE h.status = 'ordered' AND o.status <> 'cancelled' AND l.stock_taken < h.quantity - h.returned")" 0 \
      "every ordered hold's units are in its order's stock_taken (unless cancelled)"
check "$(q -c "SELECT count(*) FROM stripe_webhook.holds WHERE status = 'ordered'
                AND order_id NOT IN (SELECT order_id FROM stripe_webhook.checkout_sessions WHERE id = checkout_session_id)")" 0 \
      "an ordered hold names its own session's order"

# give back every open hold: the stock is then initial - what orders hold
q -c "SELECT count(stripe_webhook.release_hold(checkout_session_id))
        FROM (SELECT DISTINCT checkout_session_id FROM stripe_webhook.holds WHERE status = 'held') s" >/dev/null
check "$(q -c "SELECT count(*) FROM stripe_webhook.holds WHERE status = 'held'")" 0 "every open hold released"
check "$(q -c "SELECT count(*) FROM stripe_webhook.products p JOIN sw_initial_stock i ON i.product_id = p.id
                WHERE p.stock <> i.stock - (SELECT coalesce(sum(oi.stock_taken), 0) FROM stripe_webhook.order_items oi
                                             WHERE oi.product_id = p.id)")" 0 \
      "then stock = initial - what orders hold, for every product: no unit lost or doubled"

[ "$fails" -eq 0 ]
