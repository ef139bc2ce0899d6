#!/usr/bin/env bash
# test/e2e/90_debian_package.t: the Debian packages, built, checked,
# installed and used.
#
#   1. dpkg-buildpackage -us -uc -b in a copy of the tree (the tree stays
#      clean) gives postgresql-NN-stripe-webhook for every version in
#      debian/pgversions that this system supports, and stripe-webhook-relay
#   2. lintian reports no error (its warnings are printed as diagnostics)
#   3. dpkg -i installs them for real: the extension's files belong to the
#      package, the relay is /usr/bin/stripe-webhook-relay, the unit runs it
#      as the stripe-relay user that postinst created, the settings file is
#      root-only
#   4. a fresh cluster of the system's PostgreSQL (not the test stage):
#      CREATE EXTENSION at the default version, the packaged example
#      relay_role.sql, then a checkout.session.completed signed here with
#      Python's hmac goes through the packaged relay, running as stripe-relay
#      with a settings file like /etc/stripe-webhook-relay.env: 200 and an
#      order; the same body tampered: 400 and nothing written; another signed
#      event straight through stripe_handle_webhook(): 200 and an order.
#   5. the packages are purged again (unless they were installed before).
#
# Needs root (dpkg -i).  Prints TAP; the plan comes last.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SW_ROOT/test/lib/common.sh"
. "$SW_ROOT/test/lib/tap.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "ok 1 # SKIP dpkg -i needs root"
    echo "1..1"
    exit 0
fi
sw_ensure_packages debhelper dpkg-dev fakeroot help2man lintian postgresql-server-dev-all >/dev/null 2>&1 ||
    { echo "not ok 1 - packaging tools install"; echo "1..1"; exit 1; }

V=$SW_PG_VERSION
EXTPKG=postgresql-$V-stripe-webhook
WORK=$(mktemp -d /tmp/sw-deb-e2e.XXXXXX)
chmod 755 "$WORK"
SECRET=whsec_deb_e2e_$RANDOM$RANDOM
DB=shop
RELAY_PID=
PURGE=""
for p in "$EXTPKG" stripe-webhook-relay; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || PURGE="$PURGE $p"
done

cleanup() {
    [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null
    sw_cluster_stop
    # shellcheck disable=SC2086
    [ -n "$PURGE" ] && dpkg --purge $PURGE >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. build ------------------------------------------------------------------

DEBIAN_BEFORE=$(git -C "$SW_ROOT" status --porcelain --ignored -- debian 2>/dev/null)
mkdir "$WORK/src"
if git -C "$SW_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$SW_ROOT" ls-files -z -c -o --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$SW_ROOT/$f" ] && printf '%s\0' "$f"; done |
        tar -C "$SW_ROOT" --null -T - -cf - | tar -C "$WORK/src" -xf -
else
    tar -C "$SW_ROOT" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$WORK/src" -xf -
fi
# as a build machine would: the system's PATH (not the test stage's
# pg_config) and no connection settings of the test cluster
(cd "$WORK/src" && env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PG_CONFIG \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b builds" "$(tail -30 "$WORK/build.log")"
! grep -E '(warning|error):' "$WORK/build.log" | grep -v 'strip-program' >"$WORK/warnings"
ok $? "the package build prints no compiler or debhelper warning" "$(head -20 "$WORK/warnings")"
DEBVER=$(dpkg-parsechangelog -l "$SW_ROOT/debian/changelog" -S Version)
EXTDEB=$WORK/${EXTPKG}_${DEBVER}_$(dpkg --print-architecture).deb
RELAYDEB=$WORK/stripe-webhook-relay_${DEBVER}_$(dpkg --print-architecture).deb
[ -f "$EXTDEB" ] && [ -f "$RELAYDEB" ]
ok $? "the build gives $EXTPKG and stripe-webhook-relay $DEBVER" "$(ls "$WORK")"
CTRLVER=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$SW_ROOT/stripe_webhook.control")
is "${DEBVER%-*}" "$CTRLVER" "the package's upstream version is stripe_webhook.control's default_version"
dpkg-deb -c "$EXTDEB" >"$WORK/ext.list"
grep -q "usr/share/postgresql/$V/extension/stripe_webhook--$CTRLVER.sql$" "$WORK/ext.list" &&
    grep -q "usr/lib/postgresql/$V/lib/stripe_webhook.so$" "$WORK/ext.list"
ok $? "$EXTPKG holds the install script and the module for PostgreSQL $V"
! grep -q 'stripe-webhook-relay$' "$WORK/ext.list"
ok $? "$EXTPKG does not carry the relay"
! grep -q '/include/' "$WORK/ext.list"
ok $? "$EXTPKG installs no C headers"
dpkg-deb -c "$RELAYDEB" >"$WORK/relay.list"
grep -q ' ./usr/bin/stripe-webhook-relay$' "$WORK/relay.list" &&
    grep -q 'usr/share/man/man1/stripe-webhook-relay.1.gz$' "$WORK/relay.list" &&
    grep -q 'lib/systemd/system/stripe-webhook-relay.service$' "$WORK/relay.list"
ok $? "stripe-webhook-relay holds the relay, its manual page and its systemd unit"
is "$(git -C "$SW_ROOT" status --porcelain --ignored -- debian 2>/dev/null)" "$DEBIAN_BEFORE" \
    "the worktree's debian/ is untouched by the build"

# --- 2. lintian ----------------------------------------------------------------

lintian "$WORK"/*.changes >"$WORK/lintian.log" 2>&1
grep -E '^[EWI]: ' "$WORK/lintian.log" | sed 's/^/# lintian: /'
! grep -qE '^E: ' "$WORK/lintian.log"
ok $? "lintian: no errors ($(grep -cE '^W: ' "$WORK/lintian.log") warnings)"

# --- 3. install ----------------------------------------------------------------

DEBIAN_FRONTEND=noninteractive dpkg -i "$EXTDEB" "$RELAYDEB" >"$WORK/dpkg.log" 2>&1
ok $? "dpkg -i installs both packages" "$(tail -20 "$WORK/dpkg.log")"
is "$(dpkg -S "/usr/lib/postgresql/$V/lib/stripe_webhook.so" 2>/dev/null | cut -d: -f1)" "$EXTPKG" \
    "stripe_webhook.so belongs to $EXTPKG"
is "$(dpkg -S "/usr/share/postgresql/$V/extension/stripe_webhook.control" 2>/dev/null | cut -d: -f1)" "$EXTPKG" \
    "stripe_webhook.control belongs to $EXTPKG"
UNIT=/lib/systemd/system/stripe-webhook-relay.service
[ -f "$UNIT" ] || UNIT=/usr/lib/systemd/system/stripe-webhook-relay.service
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT" 2>/dev/null)
is "$EXEC" /usr/bin/stripe-webhook-relay "the systemd unit runs the packaged relay"
[ -x "$EXEC" ]
ok $? "the unit's ExecStart is installed and executable"
is "$(sed -n 's/^User=//p' "$UNIT")" stripe-relay "the unit runs as stripe-relay"
getent passwd stripe-relay >/dev/null
ok $? "postinst created the system user stripe-relay"
is "$(stat -c '%a %U' /etc/stripe-webhook-relay.env 2>/dev/null)" "600 root" \
    "/etc/stripe-webhook-relay.env is root's, mode 0600"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$UNIT" >"$WORK/verify.log" 2>&1
    ok $? "systemd-analyze verify accepts the unit" "$(cat "$WORK/verify.log")"
else
    N=$((N + 1))
    echo "ok $N # SKIP systemd-analyze not installed"
fi

# --- 4. a fresh cluster of the system's PostgreSQL ------------------------------

SW_BINDIR=/usr/lib/postgresql/$V/bin
sw_cluster_start debpkg >/dev/null
ok $? "a fresh cluster of the system's PostgreSQL $V starts"
psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null &&
    psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION stripe_webhook" >"$WORK/create.log" 2>&1
ok $? "CREATE EXTENSION stripe_webhook from the package" "$(cat "$WORK/create.log")"
q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'stripe_webhook'")" "$CTRLVER" \
    "the installed version is the default version"
is "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'stripe_handle_webhook'")" 1 \
    "stripe_handle_webhook() exists"
EXAMPLES=/usr/share/doc/$EXTPKG/examples
psql -qX -v ON_ERROR_STOP=1 -d "$DB" -f "$EXAMPLES/relay_role.sql" >"$WORK/role.log" 2>&1 &&
    q "INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
       INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
       VALUES (1, 'Espresso cup', 1200, 'usd', 100), (2, 'Coffee beans 1 kg', 3100, 'usd', 100)" >/dev/null
ok $? "the packaged relay_role.sql, a signing secret and products" "$(cat "$WORK/role.log")"

# make_event NAME EVT CS USER: a cart for USER (2 cups, 1 bag of beans) and
# NAME.body, a checkout.session.completed for it, NAME.sig its header signed
# with Python's hmac over the body's bytes.
make_event() {
    local name=$1 evt=$2 cs=$3 user=$4 cart
    cart=$(q "WITH c AS (INSERT INTO stripe_webhook.carts (user_id) VALUES ('$user') RETURNING id),
                   i AS (INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
                         SELECT c.id, p.product_id, p.quantity FROM c,
                                (VALUES (1::bigint, 2), (2::bigint, 1)) AS p(product_id, quantity))
              SELECT id FROM c")
    /usr/bin/python3 - "$SW_ROOT/demo/checkout.session.completed.json" "$WORK/$name" \
        "$evt" "$cs" "$cart" "$user" "$SECRET" <<'PY'
import hashlib, hmac, json, sys, time
tmpl, out, evt, cs, cart, user, secret = sys.argv[1:]
e = json.load(open(tmpl))
e["id"] = evt
o = e["data"]["object"]
o["id"] = cs
o["client_reference_id"] = cart
o["metadata"] = {"user_id": user, "cart_id": cart}
body = json.dumps(e).encode()
t = str(int(time.time()))
sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
open(out + ".body", "wb").write(body)
open(out + ".sig", "w").write("t=%s,v1=%s" % (t, sig))
PY
}

# the relay as systemd would run it: as stripe-relay, settings from a file
# shaped like /etc/stripe-webhook-relay.env
PORT=$(sw_free_port)
cat >"$WORK/relay.env" <<EOF
DATABASE_URL=postgresql://stripe_webhook_relay@127.0.0.1:$PGPORT/$DB
LISTEN_ADDR=127.0.0.1:$PORT
EOF
# (setpriv execs the relay itself, so that $! is the relay's PID)
# shellcheck disable=SC2046
env -i $(grep -v '^#' "$WORK/relay.env") \
    setpriv --reuid=stripe-relay --regid=stripe-relay --init-groups /usr/bin/stripe-webhook-relay \
    2>>"$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.05
done
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 200 \
    "the packaged relay runs as stripe-relay and answers /healthz" 
is "$(ps -o user= -p "$RELAY_PID" 2>/dev/null | tr -d ' ')" stripe-relay "the relay process is stripe-relay's"

# post NAME: POST NAME.body with NAME.sig to the relay; prints the status.
post() {
    curl -s -m 20 -o "$WORK/reply" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json; charset=utf-8' \
        -H "Stripe-Signature: $(cat "$WORK/$1.sig")" \
        --data-binary @"$WORK/$1.body" "http://127.0.0.1:$PORT/api/payments/stripe_webhook/"
}

make_event ev1 evt_DebPkg1 cs_test_debpkg_1 u1
BEFORE=$(sw_shop_state "$DB")
cp "$WORK/ev1.sig" "$WORK/bad.sig"
sed 's/"amount_total": 6000/"amount_total": 1/' "$WORK/ev1.body" >"$WORK/bad.body"
is "$(post bad)" 400 "relay: the signed event with its body tampered: 400"
AFTER=$(sw_shop_state "$DB")
is "${AFTER% *}" "${BEFORE% *}" "relay: tampered body: nothing written"
is "${AFTER##* }" "$((${BEFORE##* } + 1))" "relay: tampered body: counted as a rejected delivery"
is "$(post ev1)" 200 "relay: a signed checkout.session.completed: 200" "$(cat "$WORK/reply")"
ORDER=$(q "SELECT id FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_debpkg_1'")
grep -q "\"order_id\": \"$ORDER\"" "$WORK/reply" && [ -n "$ORDER" ]
ok $? "relay: the reply names the order created" "$(cat "$WORK/reply")"
is "$(q "SELECT status || ' ' || payment_status || ' ' || user_id || ' ' || amount_total
         FROM stripe_webhook.orders WHERE id = '$ORDER'")" "confirmed paid u1 6000" \
    "relay: the order is confirmed and paid"
is "$(q "SELECT string_agg(stock::text, ',' ORDER BY id) FROM stripe_webhook.products")" "98,99" \
    "relay: the stock is taken"
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"
ok $? "the relay exits 0 on SIGTERM"
RELAY_PID=

# straight through the SQL function, as PostgREST or any relay calls it
make_event ev2 evt_DebPkg2 cs_test_debpkg_2 u2
R=$(psql -qAtX -v ON_ERROR_STOP=1 -d "$DB" -U stripe_webhook_relay -v body="$(cat "$WORK/ev2.body")" \
    -v sig="$(cat "$WORK/ev2.sig")" <<'SQL'
SELECT stripe_webhook.stripe_handle_webhook(:'body', :'sig') ->> 'status'
SQL
)
is "$R" 200 "stripe_handle_webhook() as the relay role: 200"
is "$(q "SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = 'cs_test_debpkg_2' AND status = 'confirmed'")" 1 \
    "stripe_handle_webhook(): the order is created"

sw_cluster_stop

# --- 5. remove -----------------------------------------------------------------

if [ -n "$PURGE" ]; then
    # shellcheck disable=SC2086
    dpkg --purge $PURGE >"$WORK/purge.log" 2>&1
    ok $? "dpkg --purge removes the packages" "$(cat "$WORK/purge.log")"
    [ ! -e "/usr/lib/postgresql/$V/lib/stripe_webhook.so" ] && [ ! -e /usr/bin/stripe-webhook-relay ] &&
        [ ! -e /etc/stripe-webhook-relay.env ]
    ok $? "purged: no module, relay or settings file left"
    PURGE=""
fi

echo "1..$N"
[ "$FAILED" -eq 0 ]
