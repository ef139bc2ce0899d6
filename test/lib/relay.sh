# test/lib/relay.sh: shared set-up of the relay attack tests
# (test/e2e/5[1-5]_relay_*.t).  Source it after common.sh and tap.sh, with
# WORK (a scratch directory) and DB (a database name to create) set.
#
#   relay_cleanup                for trap ... EXIT: the relay killed, the
#                                database dropped, WORK removed
#   relay_setup                  database with the extension, the relay role
#                                (sql/relay_role.sql), a signing secret, two
#                                products with stock 1000
#   relay_event NAME             a fresh cart for a fresh user and a signed
#                                checkout.session.completed for it (NAME.body,
#                                NAME.sig; its session id in NAME.cs)
#   relay_start LOG [flags...]   the installed relay as stripe_webhook_relay on
#                                a free port (RELAY_PID, PORT, URL); it is
#                                up once /healthz answers 200 to a client
#                                from $RELAY_PROBE_FROM (default 127.0.0.1)
#   relay_stop                   SIGTERM and wait (exit status in STOP_RC)
#   relay_deliver NAME [SOURCE]  POST NAME from SOURCE (default 127.0.0.1);
#                                prints "STATUS BODY"
#   relay_valid_delivery WHAT [SOURCE]
#                                a new event delivered: 200 and its order
#                                (two TAP tests)
#   shop_delta BEFORE AFTER      what changed between two sw_shop_state lines:
#                                "events orders items carts locked stock counter"
#   one_delivery N [REJECTED] [UNSENT]
#                                the delta of N deliveries (their events made
#                                by relay_event), REJECTED more rejections
#                                counted, UNSENT more events made but never
#                                processed (default 0)
#   relay_rss                    the relay's resident set size, kB
#   log_has FILE REGEX WHAT      a TAP test: FILE has a line matching REGEX
#                                (grep on the file: tap.sh's like() would
#                                pipe a large log into grep -q)

PY=/usr/bin/python3
RELAY_CLIENT=$SW_ROOT/test/lib/relay_client.py
RELAY_TEMPLATE=$SW_ROOT/test/fixtures/event.checkout.session.completed.paid.json
SECRET=whsec_relay_attack_$RANDOM$RANDOM
RELAY_PID=
EVENTS=0

q() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "$1"
}

relay_cleanup() {
    [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
    rm -rf "$WORK"
}

relay_setup() {
    psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || return 1
    psql -qX -v ON_ERROR_STOP=1 -d "$DB" -v secret="$SECRET" >/dev/null <<SQL
CREATE EXTENSION stripe_webhook;
\i $SW_ROOT/sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (:'secret');
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
VALUES (1, 'Espresso cup', 1500, 'usd', 1000), (2, 'Coffee beans', 2500, 'usd', 1000);
SQL
}

relay_event() {
    local name=$1 user cart
    EVENTS=$((EVENTS + 1))
    user="u${EVENTS}_$RANDOM"
    cart=$(q "WITH c AS (INSERT INTO stripe_webhook.carts (user_id) VALUES ('$user') RETURNING id),
                  i AS (INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
                        SELECT c.id, p, n FROM c, (VALUES (1::bigint, 2), (2::bigint, 1)) AS v(p, n))
             SELECT id FROM c")
    "$PY" "$RELAY_CLIENT" event "$WORK" "$name" "evt_RelayAttack${EVENTS}x$$" "$cart" "$user" \
        "$SECRET" "$RELAY_TEMPLATE"
    echo "cs_test_RelayAttack${EVENTS}x$$" >"$WORK/$name.cs"
}

relay_start() {
    local log=$1 i
    shift
    PORT=$(sw_free_port)
    URL=http://127.0.0.1:$PORT
    "$SW_BINDIR/stripe-webhook-relay" \
        --database-url "host=$PGHOST port=$PGPORT dbname=$DB user=stripe_webhook_relay" \
        --listen "127.0.0.1:$PORT" "$@" 2>>"$WORK/$log" &
    RELAY_PID=$!
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -m 1 --interface "${RELAY_PROBE_FROM:-127.0.0.1}" \
            -w '%{http_code}' "$URL/healthz")" = 200 ] && return 0
        kill -0 "$RELAY_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

relay_stop() {
    kill -TERM "$RELAY_PID"
    wait "$RELAY_PID"
    STOP_RC=$?
    RELAY_PID=
}

relay_deliver() {
    "$PY" "$RELAY_CLIENT" deliver "$PORT" "$WORK" "$1" "${2:-127.0.0.1}"
}

relay_valid_delivery() {
    local what=$1 source=${2:-127.0.0.1} name r
    name=valid$((EVENTS + 1))
    relay_event "$name"
    r=$(relay_deliver "$name" "$source")
    like "$r" '^200 .*order created' "$what: a valid signed delivery gets 200"
    is "$(q "SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = '$(cat "$WORK/$name.cs")'")" 1 \
        "$what: ... and makes its order"
}

shop_delta() {
    "$PY" - "$1" "$2" <<'PY'
import sys
def parse(s):
    e, o, i, carts, stock, r = s.split()
    c, l = carts.split("/")
    return [int(e), int(o), int(i), int(c), int(l)], [int(x) for x in stock.split(",")], int(r)
(a, sa, ra), (b, sb, rb) = parse(sys.argv[1]), parse(sys.argv[2])
print(" ".join(str(y - x) for x, y in zip(a, b)), ",".join(str(y - x) for x, y in zip(sa, sb)), rb - ra)
PY
}

one_delivery() {
    local n=$1
    # carts: the one relay_event made for each delivery, the new active one
    # fulfilment gives its user, and those of events never delivered
    echo "$n $n $((2 * n)) $((2 * n + ${3:-0})) $n $((-2 * n)),$((-n)) ${2:-0}"
}

relay_rss() {
    awk '/^VmRSS:/ {print $2}' "/proc/$RELAY_PID/status"
}

log_has() {
    grep -qE -- "$2" "$1"
    ok $? "$3" "no line of $(basename "$1") matches /$2/"
}
