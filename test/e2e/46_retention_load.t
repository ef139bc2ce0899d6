#!/usr/bin/env bash
# test/e2e/46_retention_load.t: event retention under load.  Eight pgbench
# clients deliver signed checkout.session.completed events (and a tenth of
# ignored ones) through stripe_handle_webhook(), picking sessions at random
# so that most deliveries are redeliveries; first alone, then while another
# pgbench session keeps pruning the inbox, alternating
# prune_events('2 seconds', 50) and CALL prune_events_batched('2 seconds', 50)
# so that events delivered a moment ago are pruned while they are being
# redelivered.  Then:
#   - every delivery answered 200 and pgbench saw no error;
#   - no received or failed event was deleted (old ones put there for it);
#   - events processed "100 days ago" (delivered at set-up, then backdated)
#     and everything processed before the last pruning are gone;
#   - every completed session has exactly one order with its three items,
#     every answer for a session carried that order, and stock equals the
#     initial stock less what the orders hold (a redelivery of a pruned
#     event never fulfils twice).
# Deliveries per second with and without the concurrent pruning are
# reported as a comment, not asserted (the machine is shared).
#
# Runs in its own database on the runner's cluster (PGHOST/PGPORT/PGUSER)
# and drops it afterwards.  About 20 s of load: SW_RETENTION_SECONDS (default
# 9) is the length of each of the two phases.
set -uo pipefail
ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/test/lib/tap.sh"
DB="sw_retention_$$"
SECS=${SW_RETENTION_SECONDS:-9}
CLIENTS=8
SESSIONS=20000
OLD=400
WORK=$(mktemp -d /tmp/sw-retention.XXXXXX)
chmod 755 "$WORK"

q() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }
cleanup() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "1..18"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || { ok 1 "create database"; exit 1; }

# Shop: 6 products with ample stock; one cart per session (3 items, 5500
# usd as in the fixture).  ret_bodies lists the events: session n's
# checkout.session.completed, and for every 10th n also an event of a type
# the extension ignores.  OLD sessions are delivered now and then backdated
# to 100 days ago; 50 received and 50 failed events from a year ago must
# survive every pruning.
TEMPLATE=$(sed -e 's/"id": "evt_[A-Za-z0-9]*"/"id": "evt_ret_@N@"/' \
               -e 's/"id": "cs_test_[A-Za-z0-9]*"/"id": "cs_ret_@N@"/' \
               -e 's/"user_id": "[^"]*"/"user_id": "@N@"/' \
               -e 's/"cart_id": "[^"]*"/"cart_id": "@N@"/' \
               -e 's/"client_reference_id": "[^"]*"/"client_reference_id": "@N@"/' \
               "$ROOT/test/fixtures/event.checkout.session.completed.paid.json")
q -v template="$TEMPLATE" -v sessions="$SESSIONS" -v old="$OLD" <<'SQL' >"$WORK/setup.out" 2>&1
SET client_min_messages = warning;
SET stripe_webhook.log_level = debug1;
CREATE EXTENSION stripe_webhook;
INSERT INTO stripe_webhook.signing_secrets (secret, description)
VALUES ('whsec_retention_' || md5(random()::text), 'retention load test');
CREATE TABLE ret_secret AS SELECT secret FROM stripe_webhook.signing_secrets;

INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT g, 'retention product ' || g, CASE WHEN g % 2 = 1 THEN 1500 ELSE 2500 END, 'usd', 100000
FROM generate_series(1, 6) g;
INSERT INTO stripe_webhook.carts (id, user_id) SELECT n, n::text FROM generate_series(1, :sessions) n;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), 1000000);
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT n, 1 + 2 * (n % 3), 2 FROM generate_series(1, :sessions) n
UNION ALL
SELECT n, 2 + 2 * (n % 3), 1 FROM generate_series(1, :sessions) n;
CREATE TABLE ret_initial_stock AS SELECT id AS product_id, stock FROM stripe_webhook.products;

-- Event k: for k <= sessions, session k's checkout.session.completed;
-- above, an event of a type the extension ignores, for session
-- (k - sessions) * 10.  The bodies are made from the templates when
-- delivered.
CREATE TABLE ret_sessions AS SELECT :sessions::int AS sessions;
CREATE TABLE ret_template (kind text PRIMARY KEY, body text NOT NULL);
INSERT INTO ret_template VALUES
    ('completed', :'template'),
    ('ignored', regexp_replace(replace(:'template', '"id": "evt_ret_@N@"', '"id": "evt_ret_ign_@N@"'),
                               '"type": "[a-z_.]+"', '"type": "customer.created"'));
CREATE FUNCTION ret_body(k int) RETURNS text LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN k <= n.sessions THEN replace(c.body, '@N@', k::text)
                ELSE replace(i.body, '@N@', ((k - n.sessions) * 10)::text) END
    FROM ret_template c, ret_template i, ret_sessions n WHERE c.kind = 'completed' AND i.kind = 'ignored'
$$;
CREATE TABLE ret_bodies (k int PRIMARY KEY, session_id text NOT NULL, completed boolean NOT NULL);
INSERT INTO ret_bodies
SELECT n, 'cs_ret_' || n, true FROM generate_series(1, :sessions) n
UNION ALL
SELECT :sessions + n / 10, 'cs_ret_' || n, false FROM generate_series(10, :sessions, 10) n;

CREATE TABLE ret_calls (k int NOT NULL, phase text NOT NULL, status text, message text, order_id uuid);

-- the old sessions: delivered now, backdated to 100 days ago
INSERT INTO ret_calls
SELECT b.k, 'setup', r->>'status', r->>'message', (r->>'order_id')::uuid
FROM ret_bodies b, ret_secret s, ret_body(b.k) body,
     stripe_webhook.stripe_handle_webhook(body, stripe_webhook.stripe_signature_header(body, s.secret)) r
WHERE b.k <= :old OR (b.k > :sessions AND b.k <= :sessions + :old / 10);
UPDATE stripe_webhook.events SET received_at = received_at - interval '100 days',
                                 processed_at = processed_at - interval '100 days';
CREATE TABLE ret_old AS SELECT id FROM stripe_webhook.events;

-- unprocessed events from a year ago: never to be deleted
INSERT INTO stripe_webhook.events (id, type, status, received_at, attempts, last_attempt_at, last_error, payload)
SELECT 'evt_ret_unproc_' || g, 'checkout.session.completed', CASE WHEN g % 2 = 0 THEN 'failed' ELSE 'received' END,
       now() - interval '1 year', 1, now() - interval '1 year', 'left for the test', '{"object": "event"}'
FROM generate_series(1, 100) g;
CREATE TABLE ret_unprocessed AS
SELECT id, status, md5(row(e.*)::text) AS digest FROM stripe_webhook.events e WHERE status IN ('received', 'failed');

CREATE TABLE ret_prune_log (at timestamptz NOT NULL DEFAULT clock_timestamp(), via text NOT NULL, deleted bigint NOT NULL);
VACUUM ANALYZE;
SQL
setup_rc=$?
ok $setup_rc "set-up: $SESSIONS sessions, $(q -c 'SELECT count(*) FROM ret_old') events backdated 100 days, 100 unprocessed events a year old" \
   "$(head -20 "$WORK/setup.out")"
[ "$setup_rc" -eq 0 ] || exit 1
is "$(q -c "SELECT count(*) FILTER (WHERE status = '200') || '/' || count(*) FROM ret_calls")" \
   "$(q -c "SELECT count(*) || '/' || count(*) FROM ret_calls")" "set-up deliveries answered 200"

# one delivery: a random event (see ret_body), signed now, logged with its
# answer.  Each phase has its own half of the sessions (base 0 or
# sessions / 2), so both see the same mix of first deliveries and
# redeliveries.
HALF=$((SESSIONS / 2))
cat >"$WORK/deliver.sql" <<'EOF'
\set r random(1, :half + :half / 10)
\set k case when :r <= :half then :base + :r else :sessions + :base / 10 + (:r - :half) end
INSERT INTO ret_calls
SELECT :k, ':phase', r->>'status', r->>'message', (r->>'order_id')::uuid
FROM ret_body(:k) body, ret_secret s,
     stripe_webhook.stripe_handle_webhook(body, stripe_webhook.stripe_signature_header(body, s.secret)) r;
EOF
# the pruner: one run of either entry point every 100 ms
cat >"$WORK/prune_function.sql" <<'EOF'
INSERT INTO ret_prune_log (via, deleted) SELECT 'function', stripe_webhook.prune_events('2 seconds', 50);
\sleep 100 ms
EOF
cat >"$WORK/prune_procedure.sql" <<'EOF'
DO $$
DECLARE
    d bigint;
BEGIN
    CALL stripe_webhook.prune_events_batched('2 seconds', 50, d);
    INSERT INTO ret_prune_log (via, deleted) VALUES ('procedure', d);
END
$$;
\sleep 100 ms
EOF

export PGOPTIONS="-c client_min_messages=error -c stripe_webhook.log_level=debug1"
tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | head -1; }
pgbench_clean() { [ "$2" -eq 0 ] && ! grep -qE 'ERROR|aborted|failed transactions: [1-9]' "$1"; }

# phase A: deliveries alone
pgbench -n --failures-detailed -c "$CLIENTS" -j 2 -T "$SECS" -D half="$HALF" -D base=0 -D sessions="$SESSIONS" -D phase=alone \
    -f "$WORK/deliver.sql" "$DB" >"$WORK/alone.out" 2>&1
rc=$?
pgbench_clean "$WORK/alone.out" "$rc"
ok $? "phase 1: $CLIENTS clients delivering for ${SECS}s, no pgbench error" "$(grep -E 'ERROR|DETAIL|aborted|failed' "$WORK/alone.out" | head -5)"

# phase B: deliveries while pruning
pgbench -n -c 1 -j 1 -T "$SECS" -f "$WORK/prune_function.sql@1" -f "$WORK/prune_procedure.sql@1" \
    "$DB" >"$WORK/prune.out" 2>&1 &
prune_pid=$!
pgbench -n --failures-detailed -c "$CLIENTS" -j 2 -T "$SECS" -D half="$HALF" -D base="$HALF" -D sessions="$SESSIONS" -D phase=pruning \
    -f "$WORK/deliver.sql" "$DB" >"$WORK/pruning.out" 2>&1
rc=$?
wait "$prune_pid"
prune_rc=$?
pgbench_clean "$WORK/pruning.out" "$rc"
ok $? "phase 2: $CLIENTS clients delivering for ${SECS}s while pruning, no pgbench error" \
   "$(grep -E 'ERROR|DETAIL|aborted|failed' "$WORK/pruning.out" | head -5)"
pgbench_clean "$WORK/prune.out" "$prune_rc"
ok $? "the pruner ran without error" "$(grep -E 'ERROR|DETAIL|aborted|failed' "$WORK/prune.out" | head -5)"

calls_alone=$(q -c "SELECT count(*) FROM ret_calls WHERE phase = 'alone'")
calls_pruning=$(q -c "SELECT count(*) FROM ret_calls WHERE phase = 'pruning'")
echo "# deliveries/s alone: $(tps "$WORK/alone.out") ($calls_alone deliveries in ${SECS}s)"
echo "# deliveries/s while pruning: $(tps "$WORK/pruning.out") ($calls_pruning deliveries in ${SECS}s)"
echo "# pruning: $(q -F' ' -c "SELECT count(*), 'runs', count(*) FILTER (WHERE via = 'procedure'), 'of them CALL prune_events_batched,',
                                      sum(deleted), 'events deleted' FROM ret_prune_log")"
for phase in alone pruning; do
    echo "# answers ($phase): $(q -c "SELECT string_agg(message || ' ' || n, ', ' ORDER BY message)
                                      FROM (SELECT message, count(*) n FROM ret_calls WHERE phase = '$phase' GROUP BY 1) m")"
done

is "$(q -c "SELECT count(*) FROM ret_calls WHERE status IS DISTINCT FROM '200'")" 0 "every delivery answered 200"
is "$(q -c "SELECT count(*) >= 100 FROM ret_calls WHERE phase = 'pruning'")" t \
   "there was load while pruning ($calls_pruning deliveries)"

# A body's first delivery inserts its event; another insert of the same
# event means it was redelivered after being pruned, and answered 200 all
# the same (above).  The statistics of the pgbench backends are flushed when
# they exit.
reinserted=$(q -c "SELECT n_tup_ins - (SELECT count(DISTINCT k) FROM ret_calls) - (SELECT count(*) FROM ret_unprocessed)
                   FROM pg_stat_user_tables WHERE relid = 'stripe_webhook.events'::regclass")
[ "${reinserted:-0}" -gt 0 ]
ok $? "the load redelivered events that had been pruned: $reinserted events recorded again"

# a last pruning with both entry points after the load: nothing may be left
# that was processed before its cut
q -c "INSERT INTO ret_prune_log (via, deleted) SELECT 'final', stripe_webhook.prune_events('0')" >/dev/null
q -c "CALL stripe_webhook.prune_events_batched('0')" >/dev/null
ok $? "CALL prune_events_batched('0') outside a transaction block"
is "$(q -c "SELECT coalesce(sum(deleted), 0) > 0 FROM ret_prune_log WHERE via <> 'final'")" t \
   "the concurrent pruning deleted events"
is "$(q -c "SELECT count(*) FROM stripe_webhook.events e JOIN ret_old o USING (id)
             WHERE e.processed_at < now() - interval '90 days'")" 0 \
   "every event backdated 100 days is gone (or was redelivered and processed anew)"
is "$(q -c "SELECT count(*) FROM stripe_webhook.events WHERE status IN ('processed', 'ignored')")" 0 \
   "after prune_events('0') no processed or ignored event is left"

# unprocessed events: exactly the old ones, untouched
is "$(q -c "SELECT count(*) FROM ret_unprocessed u
             LEFT JOIN stripe_webhook.events e ON e.id = u.id
             WHERE e.id IS NULL OR md5(row(e.*)::text) <> u.digest")" 0 \
   "none of the 100 received or failed events was deleted or changed"
is "$(q -c "SELECT count(*) FROM stripe_webhook.events WHERE id NOT IN (SELECT id FROM ret_unprocessed)")" 0 \
   "and no delivery left a received or failed event"

# one order per completed session, the same one in every answer; stock
is "$(q -c "SELECT count(*) FROM (SELECT DISTINCT b.session_id FROM ret_calls c JOIN ret_bodies b USING (k) WHERE b.completed) s
             WHERE (SELECT count(*) FROM stripe_webhook.orders o WHERE o.checkout_session_id = s.session_id) <> 1")" 0 \
   "every delivered completed session has exactly one order"
is "$(q -c "SELECT count(*) FROM stripe_webhook.orders o
             WHERE NOT EXISTS (SELECT FROM ret_calls c JOIN ret_bodies b USING (k)
                               WHERE b.completed AND b.session_id = o.checkout_session_id)
                OR (SELECT count(*) FROM stripe_webhook.order_items i WHERE i.order_id = o.id) <> 2")" 0 \
   "no order without a delivered completed event; each with its 2 lines"
is "$(q -c "SELECT count(*) FROM ret_calls c JOIN ret_bodies b USING (k)
             JOIN stripe_webhook.orders o ON o.checkout_session_id = b.session_id
             WHERE b.completed AND c.order_id IS DISTINCT FROM o.id")" 0 \
   "every answer for a completed session carried its one order"
is "$(q -c "SELECT count(*) FROM ret_initial_stock s JOIN stripe_webhook.products p ON p.id = s.product_id
             WHERE p.stock <> s.stock - coalesce((SELECT sum(i.stock_taken) FROM stripe_webhook.order_items i
                                                  WHERE i.product_id = p.id), 0)")" 0 \
   "stock = initial stock - what the orders hold (no second fulfilment)"
[ "$FAILED" -eq 0 ]
