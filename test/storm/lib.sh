# test/storm/lib.sh: shared pieces of the storm and fault tests.
#
# Source it from bash after test/lib/common.sh, with STORM_WORK set to a
# scratch directory; everything but the first two needs a cluster running
# (sw_cluster_start).  It sources test/lib/tap.sh (ok, is, like and the
# counters N and FAILED) and gives:
#
#   say TEXT                   progress for a human (a TAP comment)
#   storm_ensure_stage         build and stage the extension and the relay
#                              unless SW_BINDIR already has them; sets
#                              OWN_STAGE when it made the stage (the caller
#                              removes it)
#   storm_db_create DB N [payments]
#                              database DB: extension, relay role, a signing
#                              secret, the storm's shop for N carts (in the
#                              test shop $SW_STORM_BINDING if set)
#                              (test/storm/setup.sql); the paid sessions go
#                              to $STORM_WORK/DB.sessions.csv, the refund and
#                              dispute events (with "payments") to
#                              $STORM_WORK/DB.payments.csv
#   storm_relay_start DB PORT [flags]
#                              stripe-webhook-relay as the relay role on
#                              127.0.0.1:PORT (RELAY_PID), waits for /healthz
#   storm_relay_stop / storm_relay_kill
#                              SIGTERM and wait / SIGKILL and wait
#   storm_driver DB PORT NAME [driver flags]
#                              test/storm/driver.py against the relay; report
#                              in $STORM_WORK/NAME.json, log in NAME.log
#   storm_wait_progress NAME N wait until the driver finished N deliveries
#   storm_check DB NAME        run test/lib/invariants.sql (generic shop
#                              checker) and test/lib/storm_invariants.sql,
#                              TAP lines; the table goes to NAME.invariants;
#                              STORM_VIOLATIONS gets the total
#   storm_fig NAME KEY         one figure from a driver report
#
# Every process started here is remembered by PID and stopped by PID.

STORM_DIR=$SW_ROOT/test/storm
STORM_PY=/usr/bin/python3
STORM_TEMPLATE=$SW_ROOT/test/fixtures/event.checkout.session.completed.paid.json
STORM_SECRET=${STORM_SECRET:-whsec_storm_$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
RELAY_PID=
. "$SW_ROOT/test/lib/tap.sh"

# say TEXT: progress for a human (a TAP comment under --tap).
say() {
    echo "# $*"
}

# storm_ensure_stage: the stage the tests run from (see the header).
storm_ensure_stage() {
    if [ -z "${SW_BINDIR:-}" ] || [ ! -x "$SW_BINDIR/stripe-webhook-relay" ]; then
        say "building and staging the extension and the relay"
        sw_ensure_packages || return 1
        [ -z "${SW_STAGE:-}" ] && OWN_STAGE=1
        sw_build_stage || return 1
    fi
    return 0
}

# storm_q DB SQL: one value, as the superuser.
storm_q() {
    psql -qAtX -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# storm_db_create DB SESSIONS [payments]
storm_db_create() {
    local db=$1 n=$2 payments=()
    [ "${3:-}" = payments ] && payments=(-v payments=1)
    psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db" >/dev/null || return 1
    # SW_STORM_BINDING=<shop>: the shop of test/lib/shops/ bound, seen
    # through its compatibility views (test/README.md, "Bound shops")
    sw_db_prepare "$db" "${SW_STORM_BINDING:-builtin}" || return 1
    psql -qX -v ON_ERROR_STOP=1 -d "$db" -v secret="$STORM_SECRET" -v sessions="$n" "${payments[@]}" >/dev/null <<SQL || return 1
\i $SW_ROOT/sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret, description) VALUES (:'secret', 'storm');
\i $STORM_DIR/setup.sql
\copy (SELECT session_id, event_id, cart_id, user_id, amount_subtotal, currency FROM sw_proof.paid_sessions ORDER BY cart_id, session_id) TO '$STORM_WORK/$db.sessions.csv' CSV
\copy (SELECT event_id, type, object::text FROM sw_proof.payment_events ORDER BY event_id) TO '$STORM_WORK/$db.payments.csv' CSV
SQL
}

# storm_relay_start DB PORT [relay flags...]: 0 once /healthz answers 200;
# otherwise the relay's last log lines go to stderr.
storm_relay_start() {
    local db=$1 port=$2 i
    shift 2
    # every storm connection comes from 127.0.0.1 (like a proxy's): no
    # per-address cap, whatever --connections says
    "$SW_BINDIR/stripe-webhook-relay" \
        --database-url "host=$PGHOST port=$PGPORT dbname=$db user=stripe_webhook_relay" \
        --listen "127.0.0.1:$port" --max-connections-per-ip 0 "$@" >>"$STORM_WORK/relay-$db.log" 2>&1 &
    RELAY_PID=$!
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && return 0
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -5 "$STORM_WORK/relay-$db.log" | sed 's/^/# relay: /' >&2
    storm_relay_kill
    return 1
}

# storm_relay_stop: SIGTERM (finish what is in flight), wait; 0 if it exited 0.
storm_relay_stop() {
    local rc=0
    [ -n "$RELAY_PID" ] || return 0
    kill -TERM "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID" 2>/dev/null || rc=$?
    RELAY_PID=
    return $rc
}

# storm_relay_kill: SIGKILL, wait.
storm_relay_kill() {
    [ -n "$RELAY_PID" ] || return 0
    kill -KILL "$RELAY_PID" 2>/dev/null
    wait "$RELAY_PID" 2>/dev/null
    RELAY_PID=
    return 0
}

# storm_driver DB PORT NAME [driver flags...]: run the driver in the
# foreground; its exit status is the driver's.
storm_driver() {
    local db=$1 port=$2 name=$3
    shift 3
    rm -f "$STORM_WORK/$name.progress"
    "$STORM_PY" "$STORM_DIR/driver.py" --url "http://127.0.0.1:$port" --secret "$STORM_SECRET" \
        --sessions "$STORM_WORK/$db.sessions.csv" --template "$STORM_TEMPLATE" \
        --payments "$STORM_WORK/$db.payments.csv" \
        --progress "$STORM_WORK/$name.progress" --report "$STORM_WORK/$name.json" "$@" \
        2>"$STORM_WORK/$name.log"
}

# storm_wait_progress NAME N [TIMEOUT_S]: until the driver finished N
# deliveries of its first pass (or finished it altogether).
storm_wait_progress() {
    local f=$STORM_WORK/$1.progress n=$2 limit=$((${3:-60} * 50)) i done total
    for ((i = 0; i < limit; i++)); do
        if [ -f "$f" ]; then
            read -r done total <"$f" 2>/dev/null || true
            if [ -n "${done:-}" ] && { [ "$done" -ge "$n" ] || [ "$done" -ge "$total" ]; }; then
                return 0
            fi
        fi
        sleep 0.02
    done
    return 1
}

# storm_fig NAME KEY: a figure of a driver report (JSON text of the value).
storm_fig() {
    "$STORM_PY" -c 'import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print(v if isinstance(v, (int, float, str)) else json.dumps(v, sort_keys=True))' "$STORM_WORK/$1.json" "$2"
}

# storm_driver_tap NAME RC: TAP lines for a finished driver run.
storm_driver_tap() {
    local name=$1 rc=$2
    ok "$rc" "$name: every delivery answered 2xx in the end, one order per event in the answers" \
        "$(grep -E '^# (problem|final_status|first_pass_status)' "$STORM_WORK/$name.log" | head -20)"
}

# storm_check DB NAME: the invariant checkers.  The generic shop checker
# (test/lib/invariants.sql, one row per violation) gives one TAP line; the
# storm's (test/lib/storm_invariants.sql) one per invariant.  The table goes
# to NAME.invariants, the total to STORM_VIOLATIONS.
storm_check() {
    local db=$1 name=$2 inv checked viol example n
    STORM_VIOLATIONS=0
    if ! psql -qAtX -v ON_ERROR_STOP=1 -F '|' -d "$db" \
        -c "CREATE TEMP VIEW sw_initial_stock AS SELECT product_id, stock FROM sw_proof.initial_stock" \
        -f "$SW_ROOT/test/lib/invariants.sql" >"$STORM_WORK/$name.generic" 2>&1; then
        ok 1 "$name: generic invariant checker runs" "$(cat "$STORM_WORK/$name.generic")"
        STORM_VIOLATIONS=1
        return
    fi
    n=$(grep -c . "$STORM_WORK/$name.generic")
    STORM_VIOLATIONS=$n
    ok "$([ "$n" = 0 ] && echo 0 || echo 1)" \
        "$name: generic shop invariants (test/lib/invariants.sql): $n violations" \
        "$(head -20 "$STORM_WORK/$name.generic")"
    if ! psql -qAtX -v ON_ERROR_STOP=1 -F '|' -d "$db" -f "$SW_ROOT/test/lib/storm_invariants.sql" \
        >"$STORM_WORK/$name.invariants" 2>&1; then
        ok 1 "$name: storm invariant checker runs" "$(cat "$STORM_WORK/$name.invariants")"
        STORM_VIOLATIONS=$((STORM_VIOLATIONS + 1))
        return
    fi
    while IFS='|' read -r inv checked viol example; do
        STORM_VIOLATIONS=$((STORM_VIOLATIONS + viol))
        ok "$([ "$viol" = 0 ] && echo 0 || echo 1)" \
            "$name: $inv ($checked checked, $viol violations)" "first violator: $example"
    done <"$STORM_WORK/$name.invariants"
}

# storm_invariant_count NAME: how many invariants the storm checker
# reported on (the generic checker's count as one).
storm_invariant_count() {
    echo $(($(grep -c . "$STORM_WORK/$1.invariants") + 1))
}
