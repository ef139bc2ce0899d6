#!/usr/bin/env bash
# bench/fulfil/run.sh: fulfilments per second of stripe_fulfill_session (C),
# side by side with
#   plpgsql  the same logic as a PL/pgSQL function (bench/fulfil/fulfil_plpgsql.sql)
#   floor    pgbench sending just the statements a fulfilment must execute
#            (lock and mark the cart, insert the order, insert its items,
#            update stock, insert the new cart) as one pipeline, no logic
#   floor+reads  the same pipeline preceded by the reads a fulfilment must make
#            and the floor leaves out: the cart row lock, then (in a fresh
#            snapshot) the session's existing order, its recorded outcome
#            and the cart's lines with their products locked in id order
#   webhook  stripe_handle_webhook() on a signed checkout.session.completed
#            event around the same session (verify, look the event
#            up, fulfil, record the event with its payload), in the same run
#            and with the same clients as C; the event is signed in SQL by
#            the pgbench script, which only this variant pays for
#   flash    C on carts that all hold the same three products (a flash
#            sale: every fulfilment locks and updates the same three
#            product rows; stock is ample, nothing runs short), against C,
#            whose carts hold three distinct products each
#   django   stripe_fulfill_session_text() on the Django-shaped shop
#            (test/lib/shops/django.sql bound with django.json: integer user
#            ids, numeric(10,2) money, uuid order ids, its own status words),
#            in a second database of the same cluster, filled with the same
#            products, carts and past orders
#   previous the previous release (SW_BENCH_PREVIOUS, default 657cf63: before
#            the shop binding) on its built-in tables, built from a copy of
#            that commit into a stage of its own and run in a second cluster
#            (the library has the same name), same data
#   floor_records  (diagnosis, not in the default set) floor+reads plus
#            the rows this release keeps for every order and 0.2.0 did
#            not write: the session's record (checkout_sessions), one
#            order_lines row per line and an order_changes row (its trigger
#            fires): what the statements alone cost, against C
#   c_nonotify  (diagnosis, not in the default set) C with the NOTIFY of
#            stripe_webhook.order_changes switched off (its trigger disabled
#            for that run): what the NOTIFY every new order sends costs
# at 1, 4 and 16 clients over pre-made 3-item carts.
#
#   ./bench/fulfil/run.sh
#
# Builds the extension into a private stage and runs a throwaway cluster
# (test/lib/common.sh), stopped at the end.  Every run gets fresh carts
# (and 30000 past orders with their events, so the planner sees a shop
# that has been running),
# VACUUM ANALYZE and a CHECKPOINT; variants are alternated in every round
# (the order rotates) to spread noise from other load on the machine; the
# report gives the median of the rounds.  The per-step log is set to debug1
# (stripe_webhook.log_level) so that logging is not what is measured.
#
# Settings (environment): SW_BENCH_SECONDS (per run, default 5),
# SW_BENCH_ROUNDS (default 3), SW_BENCH_CLIENTS (default "1 4 16"),
# SW_BENCH_VARIANTS (default "c plpgsql floor floor_reads webhook flash django
# previous"), SW_BENCH_PREVIOUS (the commit of variant previous, 657cf63),
# SW_BENCH_STATEMENTS=1: also load pg_stat_statements (track = all) and
# print, after each run, the server time per transaction of every statement
# that ran at least once per two transactions, nested ones included (this
# costs some throughput: use it to see where time goes, not for the ratios);
# SW_BENCH_WAITS=1: sample pg_stat_activity 10 times a second during each run
# and print what the active backends were waiting on (same caveat);
# SW_BENCH_NOTIFY=off: (diagnosis) disable the NOTIFY trigger of
# stripe_webhook.order_changes in every run of this release (c, flash,
# django...), to measure the rest without the commit-time NOTIFY lock.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

SECS=${SW_BENCH_SECONDS:-5}
ROUNDS=${SW_BENCH_ROUNDS:-3}
CLIENTS_LIST=${SW_BENCH_CLIENTS:-"1 4 16"}
VARIANTS=(${SW_BENCH_VARIANTS:-c plpgsql floor floor_reads webhook flash django previous})
PREVIOUS=${SW_BENCH_PREVIOUS:-657cf63}
for v in "${VARIANTS[@]}"; do
    case $v in
        c | plpgsql | floor | floor_reads | floor_records | webhook | flash | django | previous | c_nonotify) ;;
        *) echo "unknown variant '$v' (c plpgsql floor floor_reads webhook flash django previous)" >&2; exit 2 ;;
    esac
done
has_variant() { [[ " ${VARIANTS[*]} " == *" $1 "* ]]; }
DB=sw_bench        # built-in tables: c plpgsql floor floor_reads webhook flash (and previous, in its cluster)
DJDB=sw_bench_dj   # the Django-shaped shop, bound: django
WORK=$(mktemp -d /tmp/sw-bench-fulfil.XXXXXX)
chmod 755 "$WORK"
RESULTS="$WORK/results.tsv"
STATEMENTS=${SW_BENCH_STATEMENTS:-}
WAITS=${SW_BENCH_WAITS:-}
NOTIFY=${SW_BENCH_NOTIFY:-on}
CLUSTER_CONF=("stripe_webhook.log_level = debug1" "max_connections = 100"
    "synchronous_commit = off" "autovacuum = off"
    ${STATEMENTS:+"shared_preload_libraries = pg_stat_statements" "pg_stat_statements.track = all"})

# Two clusters at most: "new" (this tree) and "prev" (the previous release).
# save_cluster NAME / use_cluster NAME: remember / switch to a cluster's
# connection and the variables sw_cluster_stop needs.
save_cluster() {
    local n=$1
    eval "CL_${n}_HOST=\$PGHOST CL_${n}_PORT=\$PGPORT CL_${n}_DATA=\$SW_PGDATA"
    eval "CL_${n}_DIR=\$SW_CLUSTER_DIR CL_${n}_PID=\$SW_PGPID CL_${n}_BINDIR=\$SW_BINDIR"
}
use_cluster() {
    local n=$1
    eval "PGHOST=\$CL_${n}_HOST PGPORT=\$CL_${n}_PORT SW_PGDATA=\$CL_${n}_DATA"
    eval "SW_CLUSTER_DIR=\$CL_${n}_DIR SW_PGPID=\$CL_${n}_PID SW_BINDIR=\$CL_${n}_BINDIR"
    export PGHOST PGPORT SW_PGDATA SW_CLUSTER_DIR SW_PGPID SW_BINDIR
}
CLUSTERS=()
cleanup() {
    local n
    for n in "${CLUSTERS[@]}"; do
        use_cluster "$n"
        sw_cluster_stop
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "# building and starting a throwaway cluster" >&2
# the stage lives in WORK (removed at the end) unless SW_STAGE names one
SW_STAGE=${SW_STAGE:-$WORK/stage}
sw_build_stage
sw_cluster_start bench "${CLUSTER_CONF[@]}"
CLUSTERS+=(new)
save_cluster new

if has_variant previous; then
    # the previous release, from a copy of its tree (not a worktree of this
    # repository), into a stage of its own, in a cluster of its own
    echo "# building the previous release ($PREVIOUS) and starting a second cluster" >&2
    mkdir "$WORK/prev"
    git -C "$SW_ROOT" archive "$PREVIOUS" | tar -x -C "$WORK/prev"
    new_root=$SW_ROOT new_stage=$SW_STAGE new_path=$PATH
    SW_ROOT=$WORK/prev SW_STAGE=$WORK/prev-stage
    sw_build_stage
    sw_cluster_start bench-prev "${CLUSTER_CONF[@]}"
    CLUSTERS+=(prev)
    save_cluster prev
    SW_ROOT=$new_root SW_STAGE=$new_stage PATH=$new_path
    use_cluster new
fi

q() { psql -qX -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }

# setup_db DATABASE: the database, the extension, 10000 products
setup_db() {
    local db=$1
    psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
    DB=$db q -c "CREATE EXTENSION stripe_webhook" >/dev/null
    [ -z "$STATEMENTS" ] || DB=$db q -c "CREATE EXTENSION pg_stat_statements" >/dev/null
}

setup_db "$DB"
q -f bench/fulfil/fulfil_plpgsql.sql >/dev/null
SECRET=whsec_bench_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
echo "INSERT INTO stripe_webhook.signing_secrets (secret, description) VALUES (:'secret', 'benchmark');" |
    q -v secret="$SECRET" >/dev/null
# 10000 products priced 100 with stock that never runs out
PRODUCTS_SQL="INSERT INTO stripe_webhook.products (id, name, price_amount, stock)
SELECT g, 'bench product ' || g, 100, 2000000000 FROM generate_series(1, 10000) g;"
q -c "$PRODUCTS_SQL" >/dev/null

if has_variant django; then
    # the Django-shaped shop in a database of its own (the binding is per
    # database), bound; the same 10000 products at 1.00 usd
    setup_db "$DJDB"
    DB=$DJDB q -f test/lib/shops/django.sql >/dev/null
    echo "SELECT stripe_webhook.bind_shop(:'doc'::jsonb);" | DB=$DJDB q -v doc="$(cat test/lib/shops/django.json)" >/dev/null
    DB=$DJDB q -c "INSERT INTO djshop.shop_product (id, name, price, stock_quantity, created_at)
                   SELECT g, 'bench product ' || g, 1.00, 2000000000, now() FROM generate_series(1, 10000) g" >/dev/null
fi
if has_variant previous; then
    use_cluster prev
    setup_db "$DB"
    q -c "$PRODUCTS_SQL" >/dev/null
    use_cluster new
fi

# The cart lines: 3 products x 1 per cart (subtotal 300).  A bench cart (id
# > 0) holds three distinct products, spread over the catalogue, or under
# FLASH=true products 1, 2 and 3, like every other bench cart; the past
# carts (id < 0) always hold distinct products.
CART_LINES="(VALUES (0, 0), (1, 3331), (2, 6661)) AS v(k, o)"
cart_product() {   # SQL of a cart line's product, given the cart id SQL
    echo "CASE WHEN :'flash' AND $1 > 0 THEN 1 + v.k ELSE 1 + (abs($1) * 7919 + v.o) % 10000 END"
}

# prepare SHOP FLASH CLIENTS STRIDE: fresh carts client * STRIDE + 1 ..
# client * STRIDE + STRIDE, each of its own user with 3 products x 1, and
# 30000 past orders (carts locked, order items, events; on this release
# also the extension's record of their sessions, lines and order changes)
# of other users, so that the planner sees tables of a shop that has been
# running.  SHOP: builtin (this release), builtin_prev (the previous
# release's schema) or django.
prepare() {
    local shop=$1 flash=$2 clients=$3 stride=$4 db=$DB
    [ "$shop" = django ] && db=$DJDB
    case $shop in
    builtin | builtin_prev)
        DB=$db q -v flash="$flash" -v clients="$clients" -v stride="$stride" -v newschema="$([ "$shop" = builtin ] && echo true || echo false)" <<SQL >/dev/null
SET client_min_messages = warning;
TRUNCATE stripe_webhook.order_items, stripe_webhook.orders, stripe_webhook.cart_items,
         stripe_webhook.carts, stripe_webhook.checkout_sessions, stripe_webhook.events;
\if :newschema
TRUNCATE stripe_webhook.order_lines, stripe_webhook.order_changes;
\endif
UPDATE stripe_webhook.products SET stock = 2000000000;
INSERT INTO stripe_webhook.carts (id, user_id)
SELECT cl * :stride + k, 'b' || (cl * :stride + k)
  FROM generate_series(0, :clients - 1) cl, generate_series(1, :stride) k;
INSERT INTO stripe_webhook.carts (id, user_id, locked, locked_at, checkout_session_id)
SELECT -k, 'h' || k, true, now(), 'cs_hist_' || k FROM generate_series(1, 30000) k;
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c.id, $(cart_product c.id), 1 FROM stripe_webhook.carts c, $CART_LINES;
INSERT INTO stripe_webhook.orders (user_id, cart_id, checkout_session_id, payment_intent_id, status, payment_status,
                                   currency, amount_subtotal, amount_total)
SELECT 'h' || k, -k, 'cs_hist_' || k, 'pi_hist_' || k, 'confirmed', 'paid', 'usd', 300, 800
  FROM generate_series(1, 30000) k;
INSERT INTO stripe_webhook.order_items (order_id, product_id, quantity, unit_amount, stock_taken)
SELECT o.id, ci.product_id, 1, 100, 1
  FROM stripe_webhook.orders o JOIN stripe_webhook.cart_items ci ON ci.cart_id = o.cart_id;
\if :newschema
INSERT INTO stripe_webhook.checkout_sessions (id, cart_table, cart_id, user_id, order_table, order_id, consumed_cart, payment_status)
SELECT o.checkout_session_id, 'stripe_webhook.carts', o.cart_id::text, o.user_id, 'stripe_webhook.orders', o.id::text, true, 'paid'
  FROM stripe_webhook.orders o;
INSERT INTO stripe_webhook.order_lines (order_table, order_id, product_id, quantity, unit_amount, shortfall, stock_taken)
SELECT 'stripe_webhook.orders', i.order_id::text, i.product_id::text, 1, 100, 0, 1 FROM stripe_webhook.order_items i;
INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id, stripe_event_id)
SELECT 'stripe_webhook.orders', o.id::text, 'order_created', 'confirmed', o.checkout_session_id, 'evt_hist_' || o.cart_id
  FROM stripe_webhook.orders o;
\endif
INSERT INTO stripe_webhook.events (id, type, api_version, livemode, created, session_id, order_id,
                                   status, attempts, processed_at, last_attempt_at, payload)
SELECT 'evt_hist_' || o.cart_id, 'checkout.session.completed', '2025-03-31.basil', false, now(),
       o.checkout_session_id, o.id, 'processed', 1, now(), now(),
       jsonb_build_object('id', 'evt_hist_' || o.cart_id, 'object', 'event', 'type', 'checkout.session.completed',
                          'data', jsonb_build_object('object', jsonb_build_object(
                              'id', o.checkout_session_id, 'object', 'checkout.session', 'payment_status', 'paid',
                              'metadata', jsonb_build_object('user_id', o.user_id, 'cart_id', o.cart_id::text),
                              'amount_subtotal', 300, 'amount_total', 800, 'currency', 'usd')))
  FROM stripe_webhook.orders o;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), :clients * :stride + 1);
SQL
        ;;
    django)
        # users (auth_user) numbered like their carts; past users from 1e9
        DB=$db q -v flash="$flash" -v clients="$clients" -v stride="$stride" <<SQL >/dev/null
SET client_min_messages = warning;
TRUNCATE djshop.shop_orderitem, djshop.shop_order, djshop.shop_cartitem, djshop.shop_cart, djshop.auth_user,
         stripe_webhook.checkout_sessions, stripe_webhook.order_lines, stripe_webhook.order_changes,
         stripe_webhook.events;
UPDATE djshop.shop_product SET stock_quantity = 2000000000;
INSERT INTO djshop.auth_user (id, username, email, is_active, date_joined)
SELECT cl * :stride + k, 'b' || (cl * :stride + k), 'b' || (cl * :stride + k) || '@example.com', true, now()
  FROM generate_series(0, :clients - 1) cl, generate_series(1, :stride) k;
INSERT INTO djshop.auth_user (id, username, email, is_active, date_joined)
SELECT 1000000000 + k, 'h' || k, 'h' || k || '@example.com', true, now() FROM generate_series(1, 30000) k;
INSERT INTO djshop.shop_cart (id, user_id, is_locked, locked_at, created_at)
SELECT cl * :stride + k, cl * :stride + k, false, NULL, now()
  FROM generate_series(0, :clients - 1) cl, generate_series(1, :stride) k;
INSERT INTO djshop.shop_cart (id, user_id, is_locked, locked_at, created_at)
SELECT -k, 1000000000 + k, true, now(), now() FROM generate_series(1, 30000) k;
INSERT INTO djshop.shop_cartitem (cart_id, product_id, quantity)
SELECT c.id, $(cart_product c.id), 1 FROM djshop.shop_cart c, $CART_LINES;
INSERT INTO djshop.shop_order (user_id, cart_id, status, payment_state, stripe_session_id, stripe_payment_intent,
                               currency, subtotal, total, notes, modified_at)
SELECT 1000000000 + k, -k, 'processing', 'paid', 'cs_hist_' || k, 'pi_hist_' || k, 'usd', 3.00, 8.00, '', now()
  FROM generate_series(1, 30000) k;
INSERT INTO djshop.shop_orderitem (order_id, product_id, quantity, price, quantity_short)
SELECT o.id, ci.product_id, 1, 1.00, 0
  FROM djshop.shop_order o JOIN djshop.shop_cartitem ci ON ci.cart_id = o.cart_id;
INSERT INTO stripe_webhook.checkout_sessions (id, cart_table, cart_id, user_id, order_table, order_id, consumed_cart, payment_status)
SELECT o.stripe_session_id, 'djshop.shop_cart', o.cart_id::text, o.user_id::text, 'djshop.shop_order', o.id::text, true, 'paid'
  FROM djshop.shop_order o;
INSERT INTO stripe_webhook.order_lines (order_table, order_id, product_id, quantity, unit_amount, shortfall, stock_taken)
SELECT 'djshop.shop_order', i.order_id::text, i.product_id::text, 1, 100, 0, 1 FROM djshop.shop_orderitem i;
INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id, stripe_event_id)
SELECT 'djshop.shop_order', o.id::text, 'order_created', 'processing', o.stripe_session_id, 'evt_hist_' || -o.cart_id
  FROM djshop.shop_order o;
INSERT INTO stripe_webhook.events (id, type, api_version, livemode, created, session_id, order_id,
                                   status, attempts, processed_at, last_attempt_at, payload)
SELECT 'evt_hist_' || -o.cart_id, 'checkout.session.completed', '2025-03-31.basil', false, now(),
       o.stripe_session_id, o.id::text, 'processed', 1, now(), now(),
       jsonb_build_object('id', 'evt_hist_' || -o.cart_id, 'object', 'event', 'type', 'checkout.session.completed',
                          'data', jsonb_build_object('object', jsonb_build_object(
                              'id', o.stripe_session_id, 'object', 'checkout.session', 'payment_status', 'paid',
                              'metadata', jsonb_build_object('user_id', o.user_id::text, 'cart_id', o.cart_id::text),
                              'amount_subtotal', 300, 'amount_total', 800, 'currency', 'usd')))
  FROM djshop.shop_order o;
SELECT setval(pg_get_serial_sequence('djshop.shop_cart', 'id'), :clients * :stride + 1);
SQL
        ;;
    esac
    DB=$db q -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
}

# The session a webhook would hand over, compact: only the fields a
# fulfilment reads (ids, metadata, status, amounts, email, shipping).
SESSION="'{\"id\": \"cs_bench_' || :c || '\", \"object\": \"checkout.session\", \"metadata\": {\"user_id\": \"b' || :c || '\", \"cart_id\": \"' || :c || '\"}, \"payment_status\": \"paid\", \"payment_intent\": \"pi_bench_' || :c || '\", \"currency\": \"usd\", \"amount_subtotal\": 300, \"amount_total\": 800, \"customer_details\": {\"email\": \"b' || :c || '@example.com\", \"name\": \"Bench Buyer\", \"address\": {\"city\": \"Gale\", \"country\": \"US\", \"line1\": \"1 Bench St\", \"line2\": null, \"postal_code\": \"00000\", \"state\": \"CA\"}}, \"collected_information\": {\"shipping_details\": {\"name\": \"Bench Buyer\", \"address\": {\"city\": \"Gale\", \"country\": \"US\", \"line1\": \"1 Bench St\", \"line2\": null, \"postal_code\": \"00000\", \"state\": \"CA\"}}}}'"

cat >"$WORK/c.sql" <<EOF
\\set n :n + 1
\\set c :client_id * :stride + :n
SELECT stripe_webhook.stripe_fulfill_session(($SESSION)::jsonb);
EOF
cat >"$WORK/plpgsql.sql" <<EOF
\\set n :n + 1
\\set c :client_id * :stride + :n
SELECT stripe_bench.fulfil_session_plpgsql(($SESSION)::jsonb);
EOF
# The Django-shaped shop's users are auth_user ids: the same session with
# metadata.user_id the cart's number (user <c> owns cart <c>), fulfilled by
# stripe_fulfill_session_text (the shop's order ids print as text)
DJSESSION=$(printf '%s' "$SESSION" | sed "s/\"user_id\": \"b'/\"user_id\": \"'/")
cat >"$WORK/django.sql" <<EOF
\\set n :n + 1
\\set c :client_id * :stride + :n
SELECT stripe_webhook.stripe_fulfill_session_text(($DJSESSION)::jsonb);
EOF
# The event Stripe would send around that session, signed just before the call
EVENT="'{\"id\": \"evt_bench_' || :c || '\", \"object\": \"event\", \"api_version\": \"2025-03-31.basil\", \"created\": 1790000000, \"data\": {\"object\": ' || $SESSION || '}, \"livemode\": false, \"pending_webhooks\": 1, \"request\": {\"id\": null, \"idempotency_key\": null}, \"type\": \"checkout.session.completed\"}'"
cat >"$WORK/webhook.sql" <<EOF
\\set n :n + 1
\\set c :client_id * :stride + :n
SELECT (stripe_webhook.stripe_handle_webhook(e, stripe_webhook.stripe_signature_header(e, '$SECRET')) ->> 'status') = '200'
  FROM (SELECT $EVENT AS e) s;
EOF
cat >"$WORK/floor.sql" <<'EOF'
\set n :n + 1
\set c :client_id * :stride + :n
\startpipeline
UPDATE stripe_webhook.carts SET locked = true, locked_at = now(), checkout_session_id = 'cs_bench_' || :c WHERE id = :c;
INSERT INTO stripe_webhook.orders (user_id, cart_id, checkout_session_id, payment_intent_id, status, payment_status, currency, amount_subtotal, amount_total, customer_email, shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_state, shipping_postal_code, shipping_country) VALUES ('b' || :c, :c, 'cs_bench_' || :c, 'pi_bench_' || :c, 'confirmed', 'paid', 'usd', 300, 800, 'b' || :c || '@example.com', 'Bench Buyer', '1 Bench St', NULL, 'Gale', 'CA', '00000', 'US');
INSERT INTO stripe_webhook.order_items (order_id, product_id, quantity, unit_amount, stock_taken) SELECT o.id, ci.product_id, ci.quantity, p.price_amount, ci.quantity FROM stripe_webhook.orders o, stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id WHERE o.checkout_session_id = 'cs_bench_' || :c AND ci.cart_id = :c;
UPDATE stripe_webhook.products p SET stock = p.stock - ci.quantity FROM stripe_webhook.cart_items ci WHERE ci.cart_id = :c AND p.id = ci.product_id;
INSERT INTO stripe_webhook.carts (user_id) VALUES ('b' || :c);
\endpipeline
EOF
# floor+reads: the floor's pipeline, first making the reads that
# stripe_fulfill_session makes before writing (src/fulfil.c's lock_cart_sql
# and cart_lines_sql, the same statements)
cat >"$WORK/reads.sql" <<'EOF'
SELECT user_id, locked, checkout_session_id FROM stripe_webhook.carts WHERE id = :c FOR NO KEY UPDATE;
SELECT ci.product_id, ci.quantity, p.price_amount, p.currency, p.stock, (SELECT o.id FROM stripe_webhook.orders o WHERE o.checkout_session_id = 'cs_bench_' || :c) AS existing_order, (SELECT cs.outcome FROM stripe_webhook.checkout_sessions cs WHERE cs.id = 'cs_bench_' || :c) AS recorded FROM stripe_webhook.cart_items ci JOIN stripe_webhook.products p ON p.id = ci.product_id WHERE ci.cart_id = :c ORDER BY p.id FOR NO KEY UPDATE OF p;
EOF
sed "/^.startpipeline$/r $WORK/reads.sql" "$WORK/floor.sql" >"$WORK/floor_reads.sql"
# floor_records: floor+reads and the rows kept per order since 0.3.0
cat >"$WORK/records.sql" <<'EOF'
INSERT INTO stripe_webhook.checkout_sessions (id, cart_table, cart_id, user_id, order_table, order_id, consumed_cart, payment_status, payment_intent, amount_total) SELECT 'cs_bench_' || :c, 'stripe_webhook.carts', :c::text, 'b' || :c, 'stripe_webhook.orders', o.id::text, true, 'paid', 'pi_bench_' || :c, 800 FROM stripe_webhook.orders o WHERE o.checkout_session_id = 'cs_bench_' || :c;
INSERT INTO stripe_webhook.order_lines (order_table, order_id, product_id, quantity, unit_amount, stock_taken) SELECT 'stripe_webhook.orders', o.id::text, ci.product_id::text, ci.quantity, 100, ci.quantity FROM stripe_webhook.orders o, stripe_webhook.cart_items ci WHERE o.checkout_session_id = 'cs_bench_' || :c AND ci.cart_id = :c;
INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, checkout_session_id) SELECT 'stripe_webhook.orders', o.id::text, 'order_created', 'confirmed', 'cs_bench_' || :c FROM stripe_webhook.orders o WHERE o.checkout_session_id = 'cs_bench_' || :c;
EOF
sed "/^INSERT INTO stripe_webhook.order_items/r $WORK/records.sql" "$WORK/floor_reads.sql" >"$WORK/floor_records.sql"

# run VARIANT CLIENTS ROUND: one timed run on fresh carts; appends to RESULTS
# run VARIANT CLIENTS ROUND: one timed run on fresh carts; appends to RESULTS
run() {
    local variant=$1 clients=$2 round=$3 stride out tps processed orders confirmed taken
    local cluster=new db=$DB shop=builtin flash=false script=$variant orders_sql stock_sql t0 prep
    orders_sql="SELECT count(*), count(*) FILTER (WHERE status = 'confirmed')
                  FROM stripe_webhook.orders WHERE checkout_session_id LIKE 'cs_bench_%'"
    stock_sql="SELECT sum(2000000000 - stock) FROM stripe_webhook.products"
    case $variant in
    flash) flash=true script=c ;;
    c_nonotify) script=c ;;
    previous) cluster=prev shop=builtin_prev script=c ;;
    django)
        db=$DJDB shop=django
        orders_sql="SELECT count(*), count(*) FILTER (WHERE status = 'processing')
                      FROM djshop.shop_order WHERE stripe_session_id LIKE 'cs_bench_%'"
        stock_sql="SELECT sum(2000000000 - stock_quantity) FROM djshop.shop_product"
        ;;
    esac
    use_cluster "$cluster"
    if [ "$cluster" = new ]; then
        DB=$db q -c "ALTER TABLE stripe_webhook.order_changes $([ "$variant" = c_nonotify ] || [ "$NOTIFY" = off ] && echo DISABLE || echo ENABLE) TRIGGER order_changes_notify" >/dev/null
    fi
    # carts per client: generous for the fastest expected rate
    if [ "$clients" -eq 1 ]; then stride=$((4000 * SECS)); else stride=$((8000 * SECS / clients + 1000)); fi
    t0=$(date +%s.%N)
    prepare "$shop" "$flash" "$clients" "$stride"
    prep=$(echo "$(date +%s.%N) - $t0" | bc)
    [ -n "$STATEMENTS" ] && DB=$db q -c "SELECT pg_stat_statements_reset()" >/dev/null
    out="$WORK/$variant-$clients-$round.out"
    pgbench -n -M prepared -c "$clients" -j "$((clients < 2 ? clients : 2))" -T "$SECS" \
        -D n=0 -D stride="$stride" -f "$WORK/$script.sql" "$db" >"$out" 2>&1 &
    local pgbench_pid=$!
    if [ -n "$WAITS" ]; then
        while kill -0 "$pgbench_pid" 2>/dev/null; do
            DB=$db q -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
                          WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
                            AND datname = current_database()" >>"$out.waits" 2>/dev/null || true
            sleep 0.1
        done
    fi
    wait "$pgbench_pid" || true
    if [ -n "$WAITS" ] && [ -s "$out.waits" ]; then
        echo "# $variant at $clients clients: what active backends were doing (share of samples)" >&2
        sort "$out.waits" | uniq -c | sort -rn | head -8 |
            awk -v n="$(wc -l <"$out.waits")" '{ printf "#   %5.1f%%  %s\n", 100 * $1 / n, $2 }' >&2
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
    processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
    read -r orders confirmed < <(DB=$db q -F' ' -c "$orders_sql")
    # every order took one of each of its three products
    taken=$(DB=$db q -c "$stock_sql")
    if [ -z "$tps" ] || grep -qE 'ERROR|aborted|failed transactions: [1-9]' "$out" ||
        [ "$orders" != "$processed" ] || [ "$confirmed" != "$orders" ] || [ "$taken" != "$((3 * orders))" ]; then
        echo "# $variant at $clients clients, round $round: INVALID RUN (tps '$tps', $processed transactions, $orders orders, $confirmed confirmed, $taken units of stock taken)" >&2
        grep -E 'ERROR|DETAIL|aborted' "$out" | head -3 | sed 's/^/#   /' >&2
        tps=NaN
    fi
    if [ -n "$STATEMENTS" ] && [ "${processed:-0}" -gt 0 ]; then
        echo "# $variant at $clients clients: server time per transaction (us), calls per transaction, statement" >&2
        DB=$db q -F ' | ' -c "SELECT to_char(total_exec_time * 1000 / $processed, 'FM99990.0'),
                              to_char(calls::numeric / $processed, 'FM990.0'),
                              left(regexp_replace(query, '\s+', ' ', 'g'), 110)
                         FROM pg_stat_statements
                        WHERE calls >= $processed / 2 AND query !~* 'pg_stat_statements|^(BEGIN|COMMIT)'
                        ORDER BY total_exec_time DESC LIMIT 12" | sed 's/^/#   /' >&2
    fi
    use_cluster new
    printf '%s\t%s\t%s\t%s\n' "$variant" "$clients" "$round" "$tps" >>"$RESULTS"
    printf '# round %s  %-8s %2s clients  %10s fulfilments/s  (data prepared in %.0fs)\n' "$round" "$variant" "$clients" "$tps" "$prep" >&2
}

echo "# $ROUNDS rounds x clients {$CLIENTS_LIST} x {${VARIANTS[*]}}, ${SECS}s per run, log_level debug1$([ "$NOTIFY" = off ] && echo ", order_changes NOTIFY off")" >&2
for round in $(seq 1 "$ROUNDS"); do
    for clients in $CLIENTS_LIST; do
        # rotate the order of the variants each round
        nv=${#VARIANTS[@]}
        for i in $(seq 0 $((nv - 1))); do
            run "${VARIANTS[$(((i + round - 1) % nv))]}" "$clients" "$round"
        done
    done
done

# report: median and best run per variant and client count, and the ratios
echo
echo "stripe_fulfill_session benchmark: fulfilments/s over $ROUNDS runs of ${SECS}s each (pgbench -M prepared), 3-item carts"
[ "$NOTIFY" = off ] && echo "SW_BENCH_NOTIFY=off: the NOTIFY trigger of stripe_webhook.order_changes was disabled in every run of this release"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $(q -c 'SHOW server_version'); stripe_webhook.log_level = debug1"
q <<SQL
CREATE TEMP TABLE r (variant text, clients int, round int, tps float8);
\copy r FROM '$RESULTS'
CREATE TEMP TABLE m AS
SELECT variant, clients,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) FILTER (WHERE tps <> 'NaN') AS med,
       max(tps) FILTER (WHERE tps <> 'NaN') AS best,
       min(tps) FILTER (WHERE tps <> 'NaN') AS worst
  FROM r GROUP BY 1, 2;
SELECT format('%-8s | %-20s | %-22s | %-20s | %-20s | %-13s | %-9s | %s', 'clients', 'C median (best)',
              'PL/pgSQL median (best)', 'floor median (best)', 'floor+reads med (best)',
              'C / PL/pgSQL', 'C / floor', 'C / floor+reads') || format(' | %-20s | %s', 'webhook med (best)', 'webhook overhead')
UNION ALL
SELECT format('%-8s | %-20s | %-22s | %-20s | %-20s | %-13s | %-9s | %s', c.clients,
              round(c.med::numeric) || ' (' || round(c.best::numeric) || ')',
              round(p.med::numeric) || ' (' || round(p.best::numeric) || ')',
              round(f.med::numeric) || ' (' || round(f.best::numeric) || ')',
              round(fr.med::numeric) || ' (' || round(fr.best::numeric) || ')',
              to_char(c.med / p.med, 'FM990.00') || 'x (' || to_char(c.best / p.best, 'FM990.00') || 'x)',
              to_char(100 * c.med / f.med, 'FM990') || '% (' || to_char(100 * c.best / f.best, 'FM990') || '%)',
              to_char(100 * c.med / fr.med, 'FM990') || '% (' || to_char(100 * c.best / fr.best, 'FM990') || '%)')
       || format(' | %-20s | %s', round(w.med::numeric) || ' (' || round(w.best::numeric) || ')',
                 to_char(100 * (c.med / w.med - 1), 'FM990.0') || '% (' || to_char(100 * (c.best / w.best - 1), 'FM990.0') || '%)')
  FROM m c LEFT JOIN m p ON p.variant = 'plpgsql' AND p.clients = c.clients
           LEFT JOIN m f ON f.variant = 'floor' AND f.clients = c.clients
           LEFT JOIN m fr ON fr.variant = 'floor_reads' AND fr.clients = c.clients
           LEFT JOIN m w ON w.variant = 'webhook' AND w.clients = c.clients
 WHERE c.variant = 'c';
-- bindings, previous release, flash sale: the median of each and the ratio
-- of the medians; in brackets the median of the per-round ratios (each
-- round's runs of the two variants at that client count, run minutes apart)
CREATE TEMP TABLE pr AS
SELECT a.variant AS num, b.variant AS den, a.clients,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.tps / b.tps) AS med_ratio
  FROM r a JOIN r b USING (clients, round)
 WHERE a.tps <> 'NaN' AND b.tps <> 'NaN'
 GROUP BY 1, 2, 3;
SELECT '';
SELECT 'bindings and flash sale: fulfilments/s, medians; ratios of the medians [median of the per-round ratios]'
 WHERE EXISTS (SELECT FROM r WHERE variant IN ('flash', 'django', 'previous'));
SELECT format('%-8s | %-8s | %-8s | %-8s | %-8s | %-22s | %-24s | %s',
              'clients', 'c', 'flash', 'django', 'previous',
              'flash / c (target 80%)', 'django / c (target 90%)', 'c / previous (target 100%)')
 WHERE EXISTS (SELECT FROM r WHERE variant IN ('flash', 'django', 'previous'))
UNION ALL
SELECT format('%-8s | %-8s | %-8s | %-8s | %-8s | %-22s | %-24s | %s', c.clients,
              round(c.med::numeric), round(fl.med::numeric), round(dj.med::numeric), round(pv.med::numeric),
              to_char(100 * fl.med / c.med, 'FM990') || '% [' || to_char(100 * pfl.med_ratio, 'FM990') || '%]',
              to_char(100 * dj.med / c.med, 'FM990') || '% [' || to_char(100 * pdj.med_ratio, 'FM990') || '%]',
              to_char(100 * c.med / pv.med, 'FM990') || '% [' || to_char(100 * ppv.med_ratio, 'FM990') || '%]')
  FROM m c LEFT JOIN m fl ON fl.variant = 'flash' AND fl.clients = c.clients
           LEFT JOIN m dj ON dj.variant = 'django' AND dj.clients = c.clients
           LEFT JOIN m pv ON pv.variant = 'previous' AND pv.clients = c.clients
           LEFT JOIN pr pfl ON pfl.num = 'flash' AND pfl.den = 'c' AND pfl.clients = c.clients
           LEFT JOIN pr pdj ON pdj.num = 'django' AND pdj.den = 'c' AND pdj.clients = c.clients
           LEFT JOIN pr ppv ON ppv.num = 'c' AND ppv.den = 'previous' AND ppv.clients = c.clients
 WHERE c.variant = 'c' AND EXISTS (SELECT FROM r WHERE variant IN ('flash', 'django', 'previous'));
SELECT format('c_nonotify (diagnosis) at %s clients: %s, %s%% of c [%s%%]', n.clients, round(n.med::numeric),
              to_char(100 * n.med / c.med, 'FM990'), to_char(100 * p.med_ratio, 'FM990'))
  FROM m n JOIN m c ON c.variant = 'c' AND c.clients = n.clients
  LEFT JOIN pr p ON p.num = 'c_nonotify' AND p.den = 'c' AND p.clients = n.clients
 WHERE n.variant = 'c_nonotify' ORDER BY n.clients;
SELECT format('floor_records (diagnosis) at %s clients: %s; c at %s%% of it [%s%%]', n.clients, round(n.med::numeric),
              to_char(100 * c.med / n.med, 'FM990'), to_char(100 * p.med_ratio, 'FM990'))
  FROM m n JOIN m c ON c.variant = 'c' AND c.clients = n.clients
  LEFT JOIN pr p ON p.num = 'c' AND p.den = 'floor_records' AND p.clients = n.clients
 WHERE n.variant = 'floor_records' ORDER BY n.clients;
SELECT 'every run: ' || string_agg(format('%s@%s %s', variant, clients, runs), '; ' ORDER BY variant, clients)
  FROM (SELECT variant, clients, string_agg(round(tps::numeric)::text, ' ' ORDER BY round) AS runs FROM r GROUP BY 1, 2) x;
SQL
