#!/usr/bin/env bash
# test/e2e/07_upgrade_refunds.t: upgrading from 0.2.0 with orders in the
# built-in tables carries each order's payment intent and total into
# stripe_webhook.checkout_sessions (refunds and disputes find orders by
# it), gives the orders amount_refunded 0, and then a refund for such an
# order refunds it.  Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$SW_ROOT" || exit 1
: "${PGHOST:?run me from test/run.sh}"
DB=sw_upgrade_refunds_$$
N=0
FAILED=0
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
is() {
    N=$((N + 1))
    if [ "$1" = "$2" ]; then echo "ok $N - $3"; else echo "not ok $N - $3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; FAILED=$((FAILED + 1)); fi
}

psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null 2>&1
q -c "CREATE EXTENSION stripe_webhook VERSION '0.2.0'" >/dev/null
q >/dev/null <<'SQL'
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock) VALUES (1, 'Mug', 1500, 'usd', 10);
INSERT INTO stripe_webhook.carts (id, user_id, locked, locked_at, checkout_session_id)
VALUES (1, 'u1', true, now(), 'cs_upg_paid'), (2, 'u2', true, now(), 'cs_upg_nopi');
INSERT INTO stripe_webhook.orders (id, user_id, cart_id, checkout_session_id, payment_intent_id, status, payment_status,
                                   currency, amount_subtotal, amount_total)
VALUES ('11111111-1111-4111-8111-111111111111', 'u1', 1, 'cs_upg_paid', 'pi_3UpgradePaid0000000001', 'confirmed', 'paid',
        'usd', 3000, 3500),
       ('22222222-2222-4222-8222-222222222222', 'u2', 2, 'cs_upg_nopi', NULL, 'confirmed', 'paid', 'usd', 1500, 1500);
INSERT INTO stripe_webhook.order_items (order_id, product_id, quantity, unit_amount, stock_taken)
VALUES ('11111111-1111-4111-8111-111111111111', 1, 2, 1500, 2), ('22222222-2222-4222-8222-222222222222', 1, 1, 1500, 1);
SQL
q -c "ALTER EXTENSION stripe_webhook UPDATE" >/dev/null 2>/tmp/sw_upgrade_refunds_err.$$
is "$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'stripe_webhook'")" "$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" stripe_webhook.control)" \
   "the extension with two orders upgrades from 0.2.0"
is "$(q -c "SELECT string_agg(id || ':' || coalesce(payment_intent, '-') || ':' || amount_total, ',' ORDER BY id) FROM stripe_webhook.checkout_sessions")" \
   "cs_upg_nopi:-:1500,cs_upg_paid:pi_3UpgradePaid0000000001:3500" \
   "each session's payment intent and total are carried over from its order"
is "$(q -c "SELECT string_agg(amount_refunded::text, ',' ORDER BY id) FROM stripe_webhook.orders")" "0,0" \
   "the orders have amount_refunded 0"
R=$(q -c "SELECT stripe_webhook.stripe_apply_event('refund.updated', jsonb_build_object(
            'id', 're_3UpgradeRefund00000001', 'object', 'refund', 'amount', 3500, 'currency', 'usd',
            'payment_intent', 'pi_3UpgradePaid0000000001', 'status', 'succeeded'))->>'message'" 2>&1)
is "$R" "order refunded" "a refund of the whole total for an upgraded order refunds it"
is "$(q -c "SELECT status || '/' || amount_refunded FROM stripe_webhook.orders WHERE id = '11111111-1111-4111-8111-111111111111'")" \
   "refunded/3500" "... status refunded, 3500 refunded"
is "$(q -c "SELECT stripe_webhook.restock_order('11111111-1111-4111-8111-111111111111')")" "2" \
   "restock_order returns the upgraded order's 2 units"
is "$(q -c "SELECT stock FROM stripe_webhook.products WHERE id = 1")" "12" "... into the product's stock"

psql -qX -d postgres -c "DROP DATABASE $DB" >/dev/null
rm -f /tmp/sw_upgrade_refunds_err.$$
echo "1..$N"
[ "$FAILED" -eq 0 ]
