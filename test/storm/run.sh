#!/usr/bin/env bash
# test/storm/run.sh: the storm test through stripe-webhook-relay over HTTP.
#
#   ./test/storm/run.sh [--sessions 5000] [--copies 3] [--connections 32]
#                       [--pool-size 16] [--seed 1] [--tap] [--running-cluster]
#
# On a throwaway cluster (its own, on a free port) and a relay on a free
# port: SESSIONS carts, one paid Checkout Session each (and every fiftieth
# cart paid twice), five scarce products that about three times as many
# carts want as there are units (the last-units race), and refunds and
# disputes for every 25th session, sent in any order with its events.  The driver
# (test/storm/driver.py) delivers every event COPIES times, interleaved,
# from CONNECTIONS concurrent keep-alive connections, re-sends whatever did
# not get a 2xx, and then the invariant checkers (test/lib/invariants.sql,
# the generic shop checker, and test/lib/storm_invariants.sql) must find
# zero violations; then each of a list of corruptions, made in a
# transaction that is rolled back, must be caught by the checker.  Ends
# with the figures; exit status 0 only if everything held.  --tap prints
# TAP (test/e2e/80_storm.t runs it so).  --running-cluster uses the cluster
# of PGHOST/PGPORT (a fresh database, dropped afterwards) instead of
# starting one.
#
# Builds and stages the extension and relay first unless SW_BINDIR points
# at a staged PostgreSQL that has them (as under test/run.sh).  Stops
# everything it started, by PID.
set -uo pipefail
SW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export SW_ROOT
. "$SW_ROOT/test/lib/common.sh"

SESSIONS=5000
COPIES=3
CONNECTIONS=32
POOL=16
SEED=1
TAP=
RUNNING=
while [ $# -gt 0 ]; do
    case $1 in
        --sessions) SESSIONS=$2; shift 2 ;;
        --copies) COPIES=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --pool-size) POOL=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --tap) TAP=1; shift ;;
        --running-cluster) RUNNING=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

# SW_STORM_WORK: keep the logs, reports and tables there (not removed)
OWN_WORK=
if [ -n "${SW_STORM_WORK:-}" ]; then
    STORM_WORK=$SW_STORM_WORK
    mkdir -p "$STORM_WORK"
else
    STORM_WORK=$(mktemp -d /tmp/sw-storm.XXXXXX)
    OWN_WORK=1
fi
chmod 755 "$STORM_WORK"
OWN_STAGE=
DB=
. "$SW_ROOT/test/storm/lib.sh"

cleanup() {
    storm_relay_kill
    if [ -n "$RUNNING" ]; then
        psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    else
        sw_cluster_stop
    fi
    [ -n "$OWN_STAGE" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "$SW_STAGE"
    [ -n "$OWN_WORK" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "$STORM_WORK"
}
trap cleanup EXIT

storm_ensure_stage || exit 1

DB=sw_storm_$$
if [ -z "$RUNNING" ]; then
    sw_cluster_start storm "max_connections = 100" "log_min_messages = error" >/dev/null ||
        { echo "not ok 1 - cluster starts"; echo "1..1"; exit 1; }
fi
storm_db_create "$DB" "$SESSIONS" payments
ok $? "setup: $SESSIONS carts, their paid sessions, refunds and disputes, the scarce products (test/storm/setup.sql)"
EVENTS=$(storm_q "$DB" "SELECT count(*) FROM sw_proof.paid_sessions")
PAYMENT_EVENTS=$(storm_q "$DB" "SELECT count(*) FROM sw_proof.payment_events")
SCARCE_STOCK=$(storm_q "$DB" "SELECT sum(stock) FROM stripe_webhook.products WHERE id > 100")
SCARCE_WANTED=$(storm_q "$DB" "SELECT sum(quantity) FROM stripe_webhook.cart_items WHERE product_id > 100")
say "binding: ${SW_STORM_BINDING:-builtin}"
say "$EVENTS paid sessions for $SESSIONS carts; scarce products: $SCARCE_WANTED units wanted, $SCARCE_STOCK in stock"

# The driver signs in Python; it must sign exactly as stripe_signature_header.
BODY='{"id": "evt_sigcheck", "object": "event"}'
SQLSIG=$(psql -qAtX -d "$DB" -v body="$BODY" -v secret="$STORM_SECRET" <<'SQL'
SELECT stripe_webhook.stripe_signature_header(:'body', :'secret', to_timestamp(1785000312))
SQL
)
PYSIG=$("$STORM_PY" -c 'import hmac, hashlib, sys
print("t=1785000312,v1=" + hmac.new(sys.argv[2].encode(), b"1785000312." + sys.argv[1].encode(), hashlib.sha256).hexdigest())' \
    "$BODY" "$STORM_SECRET")
[ "$SQLSIG" = "$PYSIG" ]
ok $? "the driver signs exactly as stripe_signature_header()" "sql: $SQLSIG"$'\n'"py:  $PYSIG"

# (a second try on another port, should another process take the first)
PORT=$(sw_free_port)
storm_relay_start "$DB" "$PORT" --pool-size "$POOL" ||
    { PORT=$(sw_free_port); storm_relay_start "$DB" "$PORT" --pool-size "$POOL"; }
ok $? "relay runs (pool of $POOL database connections)"

say "storm: $EVENTS events x $COPIES deliveries from $CONNECTIONS connections"
storm_driver "$DB" "$PORT" storm --copies "$COPIES" --connections "$CONNECTIONS" --seed "$SEED" --strict
storm_driver_tap storm $?

storm_relay_stop
ok $? "relay exits 0 on SIGTERM after the storm"

storm_check "$DB" storm

# The checker itself: each of these corruptions (made in a transaction that
# is rolled back) must be reported by the invariant it breaks.
mutation() {
    local inv=$1 sql=$2 got
    got=$(psql -qAtX -v ON_ERROR_STOP=1 -F '|' -d "$DB" -c "BEGIN" -c "$sql" \
              -f "$SW_ROOT/test/lib/storm_invariants.sql" -c "ROLLBACK" 2>&1 |
          awk -F'|' -v inv="$inv" '$1 == inv {print $3}')
    [ -n "$got" ] && [ "$got" -gt 0 ]
    ok $? "the checker catches: $3 ('$inv': ${got:-?} violations)"
}
mutation 'exactly one order per paid session' \
    "DELETE FROM stripe_webhook.orders WHERE id = (SELECT min(id::text)::uuid FROM stripe_webhook.orders)" \
    "a lost order"
mutation 'no order without a paid session' \
    "INSERT INTO stripe_webhook.orders (user_id, cart_id, checkout_session_id, status, payment_status, currency, amount_subtotal, amount_total)
     VALUES ('1', 1, 'cs_test_never_paid', 'confirmed', 'paid', 'usd', 0, 0)" \
    "an order for a session nobody paid"
mutation "order items equal their cart's items" \
    "UPDATE stripe_webhook.order_items SET quantity = quantity + 1, shortfall = shortfall + 1
     WHERE (order_id, product_id) = (SELECT order_id, product_id FROM stripe_webhook.order_items ORDER BY 1, 2 LIMIT 1)" \
    "an order item that is not the cart's"
mutation 'stock = initial - taken' \
    "UPDATE stripe_webhook.products SET stock = stock + 1 WHERE id = 1" \
    "stock that does not add up"
mutation 'every shortfall flagged (needs_review, "stock short")' \
    "UPDATE stripe_webhook.orders SET status = 'confirmed', review_reason = NULL
     WHERE id = (SELECT order_id FROM stripe_webhook.order_items WHERE shortfall > 0 LIMIT 1)" \
    "a shortfall nobody is told about"
mutation 'shortfall only on a sold-out product' \
    "UPDATE stripe_webhook.products SET stock = stock + 1 WHERE id = 101;
     UPDATE sw_proof.initial_stock SET stock = stock + 1 WHERE product_id = 101" \
    "a shortfall while units were left"
mutation 'each cart consumed by at most one order' \
    "UPDATE stripe_webhook.orders SET review_reason = 'paid twice'
     WHERE review_reason LIKE 'duplicate payment%' AND id = (SELECT min(id::text)::uuid FROM stripe_webhook.orders
                                                               WHERE review_reason LIKE 'duplicate payment%')" \
    "a cart fulfilled twice"
mutation 'exactly one unlocked cart per user' \
    "UPDATE stripe_webhook.carts SET locked = true, locked_at = now() WHERE user_id = '1' AND NOT locked" \
    "a user left without an active cart"
mutation "each order's refunded amount equals the latest cumulative figure Stripe sent" \
    "UPDATE stripe_webhook.orders SET amount_refunded = amount_refunded + 1
     WHERE checkout_session_id = (SELECT min(session_id) FROM sw_proof.payment_expect)" \
    "a refunded amount that is not Stripe's"
mutation 'refunded exactly when refunded in full, with one order_refunded change' \
    "UPDATE stripe_webhook.orders SET status = 'confirmed'
     WHERE checkout_session_id = (SELECT min(session_id) FROM sw_proof.payment_expect WHERE full_refund)" \
    "a full refund the order does not show"
mutation 'every event recorded once with its outcome (processed, its order)' \
    "UPDATE stripe_webhook.events SET status = 'received', processed_at = NULL WHERE id = 'evt_storm_1a'" \
    "an event left unprocessed"

# The races the storm is for really happened.
R=$(storm_q "$DB" "SELECT count(*) FILTER (WHERE stock <> 0) || ' ' ||
                          (SELECT coalesce(sum(shortfall), 0) FROM stripe_webhook.order_items WHERE product_id > 100)
                   FROM stripe_webhook.products WHERE id > 100")
SHORT=${R#* }
[ "${R% *}" = 0 ] && [ "$SHORT" -gt 0 ] && [ "$SHORT" = "$((SCARCE_WANTED - SCARCE_STOCK))" ]
ok $? "last-units race: every scarce unit sold, the $SHORT units missing recorded as shortfalls" "got: $R"
TWICE=$(storm_q "$DB" "SELECT count(*) FROM sw_proof.paid_sessions WHERE second_payment")
REVIEW_DUP=$(storm_q "$DB" "SELECT count(*) FROM stripe_webhook.orders WHERE review_reason LIKE 'duplicate payment%'")
[ "$TWICE" = "$REVIEW_DUP" ] && [ "$TWICE" -gt 0 ]
ok $? "carts paid twice: $TWICE orders flagged 'duplicate payment', no stock taken" "got $REVIEW_DUP"
DUPS=$(storm_fig storm answers_by_message | "$STORM_PY" -c 'import json,sys; print(json.load(sys.stdin).get("already processed", 0))')
[ "$DUPS" = "$((EVENTS * (COPIES - 1)))" ]
ok $? "duplicates: $DUPS deliveries answered 'already processed' (every copy after the first)"

EARLY=$(storm_fig storm payment_answers_by_message | "$STORM_PY" -c 'import json,sys; print(json.load(sys.stdin).get("recorded; no order has this payment intent yet", 0))')
[ "$PAYMENT_EVENTS" -gt 0 ] && [ "$EARLY" -gt 0 ]
ok $? "refunds and disputes: $PAYMENT_EVENTS events, $EARLY deliveries came before their order (kept, applied when it was created)"

ORDERS=$(storm_q "$DB" "SELECT count(*) || ' orders (' || count(*) FILTER (WHERE status = 'confirmed') || ' confirmed, ' ||
                               count(*) FILTER (WHERE status = 'needs_review') || ' needs_review, ' ||
                               count(*) FILTER (WHERE status = 'refunded') || ' refunded, ' ||
                               count(*) FILTER (WHERE amount_refunded > 0 AND status <> 'refunded') || ' refunded in part)'
                          FROM stripe_webhook.orders")
say "figures:"
say "  events $EVENTS and $PAYMENT_EVENTS refund/dispute events, deliveries $(storm_fig storm deliveries) ($COPIES per event), duplicates $DUPS"
say "  connections $CONNECTIONS, relay pool $POOL, first pass $(storm_fig storm first_pass_seconds) s," \
    "$(storm_fig storm first_pass_deliveries_per_second) deliveries/s," \
    "p50 $(storm_fig storm latency_ms_p50) ms, p99 $(storm_fig storm latency_ms_p99) ms"
say "  first-pass statuses $(storm_fig storm first_pass_status), re-sent $(storm_fig storm deliveries_resent)"
say "  $ORDERS; scarce: $SCARCE_WANTED wanted, $SCARCE_STOCK in stock, $SHORT short"
say "  invariants checked $(storm_invariant_count storm), violations found: $STORM_VIOLATIONS"
if [ -z "$TAP" ]; then
    say "  invariant table:"
    sed 's/^/#     /' "$STORM_WORK/storm.invariants"
fi

echo "1..$N"
if [ -z "$TAP" ]; then
    if [ "$FAILED" -eq 0 ]; then echo "storm: PASS ($N checks)"; else echo "storm: FAIL ($FAILED of $N checks failed)"; fi
fi
[ "$FAILED" -eq 0 ]
