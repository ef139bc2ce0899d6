#!/usr/bin/env bash
# demo/run.sh: the README's main command.  One Stripe checkout, end to end,
# over real HTTP, on a throwaway cluster.
#
#   ./demo/run.sh          (as root on a fresh Debian 12 machine, or any user
#                           once the packages are there)
#
# It installs the Debian packages that are missing, builds the extension and
# stripe-webhook-relay into a private copy of PostgreSQL 15 under /tmp
# (nothing is installed system-wide), starts a cluster on a free port and
# the relay on another, creates a sample shop (sql/demo_data.sql) and a
# signing secret, then plays Stripe with curl:
#   1. a signed checkout.session.completed for the user's cart,
#   2. the same delivery again (Stripe retries whenever it is unsure),
#   3. a forged one (the body changed after signing),
# printing each HTTP reply, the order and its items, the stock before and
# after, and the user's new cart.  Everything it started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib/common.sh

EVENT=demo/checkout.session.completed.json
WORK=$(mktemp -d /tmp/sw-demo.XXXXXX)
RELAY_PID=
STAGE_IS_OURS=
[ -z "${SW_STAGE:-}" ] && STAGE_IS_OURS=1

# Bold headings when writing to a terminal.
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi

# step TEXT: a heading.
step() {
    printf '\n%s== %s%s\n' "$B" "$*" "$N"
}

# sql QUERY [psql flags]: run a query in the shop database, print it as a table.
sql() {
    psql -X -q -d shop -v ON_ERROR_STOP=1 -P footer=off -c "$1" "${@:2}"
}

# post FILE HEADER: POST FILE to the relay with HEADER as Stripe-Signature and
# print the HTTP status and the reply.
post() {
    local status
    status=$(curl -s -o "$WORK/reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json; charset=utf-8' \
        -H "Stripe-Signature: $2" --data-binary @"$1" \
        "http://127.0.0.1:$RELAY_PORT/api/payments/stripe_webhook/")
    printf '   -> HTTP %s  %s\n' "$status" "$(cat "$WORK/reply")"
}

# Stop the relay (SIGTERM: it finishes what is in flight) and the cluster.
cleanup() {
    local rc=$?
    if [ -n "$RELAY_PID" ]; then
        kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    fi
    sw_cluster_stop
    [ -n "$STAGE_IS_OURS" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "${SW_STAGE:-/nonexistent}"
    rm -rf "$WORK"
    [ "$rc" -eq 0 ] && printf '\nEverything the demo started is stopped.\n'
}
trap cleanup EXIT

step "Debian packages"
sw_ensure_packages
echo "   all there"

step "Build (warnings are errors) and install into a private PostgreSQL 15 copy"
sw_build_stage 2>"$WORK/build.log" || { cat "$WORK/build.log"; exit 1; }
echo "   $SW_STAGE"

step "A throwaway cluster"
sw_cluster_start demo
echo "   port $PGPORT, socket in $PGHOST, data in $SW_PGDATA"

step "Database \"shop\": the extension, the relay's role, a signing secret, sample data"
SECRET=whsec_demo_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
createdb shop
psql -X -q -d shop -v ON_ERROR_STOP=1 -v secret="$SECRET" >/dev/null <<'SQL'
CREATE EXTENSION stripe_webhook;
\i sql/relay_role.sql
-- the secret Stripe shows for the endpoint (here a made-up one)
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (:'secret');
\i sql/demo_data.sql
-- remembered to show the stock before and after
CREATE TABLE public.stock_before AS SELECT id, stock FROM stripe_webhook.products;
SQL
echo "   products:"
sql "SELECT id, name, price_amount AS price_cents, currency, stock FROM stripe_webhook.products ORDER BY id"
echo "   the cart of user 1001:"
sql "SELECT c.id AS cart_id, c.user_id, c.locked, p.name, i.quantity, i.quantity * p.price_amount AS cents
     FROM stripe_webhook.carts c JOIN stripe_webhook.cart_items i ON i.cart_id = c.id
     JOIN stripe_webhook.products p ON p.id = i.product_id WHERE c.user_id = '1001' ORDER BY p.id"

step "stripe-webhook-relay, connected as stripe_webhook_relay (may only call the handler)"
RELAY_PORT=$(sw_free_port)
"$SW_BINDIR/stripe-webhook-relay" --listen "127.0.0.1:$RELAY_PORT" \
    --database-url "host=$PGHOST port=$PGPORT dbname=shop user=stripe_webhook_relay" \
    2>"$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/healthz" && break
    sleep 0.05
done
echo "   GET http://127.0.0.1:$RELAY_PORT/healthz -> $(curl -s "http://127.0.0.1:$RELAY_PORT/healthz")"

# The body Stripe sends is the event file byte for byte; the header is what
# Stripe would compute with the endpoint's secret, now.
HEADER=$(psql -X -qAt -d shop -v body="$(cat "$EVENT")"$'\n' -v secret="$SECRET" <<'SQL'
SELECT stripe_webhook.stripe_signature_header(:'body', :'secret')
SQL
)

step "1. Stripe delivers checkout.session.completed ($EVENT)"
echo "   curl -X POST -H 'Stripe-Signature: ${HEADER:0:20}...' --data-binary @$EVENT \\"
echo "        http://127.0.0.1:$RELAY_PORT/api/payments/stripe_webhook/"
post "$EVENT" "$HEADER"

step "2. Stripe delivers the same event again"
post "$EVENT" "$HEADER"

step "3. A forged delivery: amount_total changed after signing, same header"
sed 's/"amount_total": 6000/"amount_total": 1/' "$EVENT" >"$WORK/tampered.json"
post "$WORK/tampered.json" "$HEADER"

step "The order"
sql "SELECT id, user_id, cart_id, status, payment_status, amount_subtotal, amount_total, currency,
            customer_email, shipping_name, shipping_city
     FROM stripe_webhook.orders" -x
echo "   its items:"
sql "SELECT p.name, oi.quantity, oi.unit_amount, oi.shortfall
     FROM stripe_webhook.order_items oi JOIN stripe_webhook.products p ON p.id = oi.product_id
     ORDER BY p.id"

step "Stock before and after"
sql "SELECT p.id, p.name, b.stock AS before, p.stock AS after
     FROM stripe_webhook.products p JOIN public.stock_before b USING (id) ORDER BY p.id"

step "The carts of user 1001: the paid one is locked, a new empty one is active"
sql "SELECT c.id AS cart_id, c.locked, c.checkout_session_id,
            (SELECT count(*) FROM stripe_webhook.cart_items i WHERE i.cart_id = c.id) AS items
     FROM stripe_webhook.carts c WHERE c.user_id = '1001' ORDER BY c.id"

step "The event inbox and the rejected deliveries"
sql "SELECT id, type, status, attempts, order_id FROM stripe_webhook.events"
sql "SELECT reason, count FROM stripe_webhook.rejected_deliveries"

step "Stopping the relay with SIGTERM (it finishes requests in flight, then exits)"
kill -TERM "$RELAY_PID"
RC=0
wait "$RELAY_PID" || RC=$?
RELAY_PID=
echo "   exit status $RC"

step "The relay's log (stderr): one line per request, never a body or signature"
sed 's/^/   /' "$WORK/relay.log"
