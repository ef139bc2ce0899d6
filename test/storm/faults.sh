#!/usr/bin/env bash
# test/storm/faults.sh: faults injected in the middle of a storm, each
# followed by Stripe's re-sending of every delivery that got no 2xx and by
# the invariant checker (test/lib/storm_invariants.sql).
#
#   ./test/storm/faults.sh [--sessions 400] [--tap] [scenario...]
#
# Scenarios (default: all, in this order):
#   backend_kill       kill -9 of relay backends in the middle of a fulfilment
#                      (stopped on a product lock another session holds),
#                      twice; the postmaster resets every backend
#   idle_pool_crash    kill -9 of an unrelated backend while the relay's pooled
#                      connections are idle: once the server is back every
#                      delivery must be answered 200 at the first attempt
#   pg_restart         pg_ctl restart -m immediate
#   relay_kill         the relay killed with SIGKILL and started again
#   lock_timeout       lock_timeout = 200ms for the relay's role while another
#                      session holds the scarce products' row locks during
#                      the first pass: those fulfilments answer 503, the
#                      re-sends after the locks are released succeed
#   statement_timeout  the same with statement_timeout = 300ms
#
# Each scenario uses its own database on one throwaway cluster, its own
# relay and the storm's shop (test/storm/setup.sql) with SESSIONS carts,
# every event delivered 3 times from 32 connections.  The fault strikes
# once a third of the deliveries are done.  Stops everything it started, by
# PID.  Exit status 0 only if every check held.  --tap prints TAP
# (test/e2e/81_faults.t runs it so).
set -uo pipefail
SW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export SW_ROOT
. "$SW_ROOT/test/lib/common.sh"

SESSIONS=400
TAP=
SCENARIOS=
while [ $# -gt 0 ]; do
    case $1 in
        --sessions) SESSIONS=$2; shift 2 ;;
        --tap) TAP=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        backend_kill|idle_pool_crash|pg_restart|relay_kill|lock_timeout|statement_timeout) SCENARIOS="$SCENARIOS $1"; shift ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
SCENARIOS=${SCENARIOS:-backend_kill idle_pool_crash pg_restart relay_kill lock_timeout statement_timeout}

STORM_WORK=$(mktemp -d /tmp/sw-faults.XXXXXX)
chmod 755 "$STORM_WORK"
OWN_STAGE=
DRIVER_PID=
HOLDER_PID=
FAULTS=0
. "$SW_ROOT/test/storm/lib.sh"

cleanup() {
    [ -n "$DRIVER_PID" ] && kill -KILL "$DRIVER_PID" 2>/dev/null
    [ -n "$HOLDER_PID" ] && kill -KILL "$HOLDER_PID" 2>/dev/null
    exec 8>&- 2>/dev/null
    storm_relay_kill
    sw_cluster_stop
    [ -n "$OWN_STAGE" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "$SW_STAGE"
    [ -z "${SW_KEEP:-}" ] && rm -rf "$STORM_WORK"
}
trap cleanup EXIT

storm_ensure_stage || exit 1

# restart_after_crash = on is the default; say it, the scenarios rely on it.
sw_cluster_start faults "max_connections = 100" "restart_after_crash = on" >/dev/null ||
    { echo "not ok 1 - cluster starts"; echo "1..1"; exit 1; }

# role_settings LOCK STATEMENT: the relay role's timeouts (new sessions).
role_settings() {
    psql -qX -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
ALTER ROLE stripe_webhook_relay SET lock_timeout = '$1';
ALTER ROLE stripe_webhook_relay SET statement_timeout = '$2';
SQL
}

# start_load DB NAME: relay on a fresh port and the driver in the background.
start_load() {
    local db=$1 name=$2
    PORT=$(sw_free_port)
    storm_relay_start "$db" "$PORT" --pool-size 16 ||
        { PORT=$(sw_free_port); storm_relay_start "$db" "$PORT" --pool-size 16; } ||
        { ok 1 "$name: relay starts"; return 1; }
    storm_driver "$db" "$PORT" "$name" --copies 3 --connections 32 --seed "$RANDOM" --retry-for 120 &
    DRIVER_PID=$!
    TOTAL=$(($(storm_q "$db" "SELECT count(*) FROM sw_proof.paid_sessions") * 3))
    storm_wait_progress "$name" $((TOTAL / 3)) 60
}

# finish_load DB NAME: wait for the driver (it re-sends until every
# delivery got a 2xx), stop the relay, check the invariants.
finish_load() {
    local db=$1 name=$2 rc=0
    wait "$DRIVER_PID" || rc=$?
    DRIVER_PID=
    storm_driver_tap "$name" "$rc"
    storm_relay_stop
    ok $? "$name: relay exits 0 on SIGTERM afterwards"
    storm_check "$db" "$name"
    say "$name: first pass $(storm_fig "$name" first_pass_status), re-sent $(storm_fig "$name" deliveries_resent)" \
        "in $(storm_fig "$name" retry_rounds) rounds, violations $STORM_VIOLATIONS"
}

# resent NAME: deliveries that needed at least one re-send.
resent() {
    storm_fig "$1" deliveries_resent
}

# blocked_backend DB: pid of a relay backend inside stripe_handle_webhook
# that waits for a lock (held by hold_products), i.e. in the middle of a
# fulfilment: cart locked, event recorded, products not yet.
blocked_backend() {
    storm_q "$1" "SELECT pid FROM pg_stat_activity
                  WHERE datname = current_database() AND usename = 'stripe_webhook_relay'
                    AND state = 'active' AND wait_event_type = 'Lock'
                    AND query LIKE '%stripe_handle_webhook%'
                  ORDER BY random() LIMIT 1" 2>/dev/null
}

# kill_blocked DB: SIGKILL one blocked backend (waiting at most 10 s for
# one); the postmaster's crash reset then ends every session, the holder's
# too.  0 if one was killed.
kill_blocked() {
    local pid= i
    for i in $(seq 1 200); do
        pid=$(blocked_backend "$1")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || return 1
    say "backend_kill: kill -9 backend $pid (waiting for a product lock inside stripe_handle_webhook)"
    return 0
}

# drop_holder: the holder's session died in the crash reset, but its psql
# waits on the FIFO (the relay and driver hold its write end too, so no EOF
# comes): tell it to quit, then reap it.
drop_holder() {
    printf '\\q\n' >&8 2>/dev/null
    exec 8>&-
    [ -n "$HOLDER_PID" ] && wait "$HOLDER_PID" 2>/dev/null
    HOLDER_PID=
}

# wait_db DB: until the server accepts connections again (60 s at most).
wait_db() {
    local i
    for i in $(seq 1 600); do
        storm_q "$1" "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# backend_kill: another session holds the scarce products' row locks, so
# fulfilments that need them stop in the middle (cart row locked, event row
# inserted, waiting for the product rows); one of those backends is killed
# with SIGKILL.  Twice.
scenario_backend_kill() {
    local db=sw_fault_backend_kill name=backend_kill killed=0
    # (blocked fulfilments give up after 1 s instead of 5: a shorter test)
    role_settings 1s 20s
    hold_products "$db" || { ok 1 "$name: another session holds the product locks"; return; }
    start_load "$db" "$name" || return
    kill_blocked "$db" && killed=$((killed + 1))
    drop_holder
    wait_db "$db"
    if hold_products "$db"; then
        kill_blocked "$db" && killed=$((killed + 1))
        drop_holder
    fi
    FAULTS=$((FAULTS + killed))
    [ "$killed" -ge 1 ]
    ok $? "$name: $killed backends killed with SIGKILL in the middle of a fulfilment"
    finish_load "$db" "$name"
    role_settings 5s 20s
    grep -q "was terminated by signal 9" "$SW_PGLOG"
    ok $? "$name: the server log shows a backend terminated by signal 9 (crash reset)"
    [ "$(resent "$name")" -gt 0 ]
    ok $? "$name: the fault hit the load: $(resent "$name") deliveries had to be re-sent"
}

# idle_pool_crash: a crash reset (kill -9 of some other backend) while the
# relay's pooled connections are idle.  Once the server is back, the relay
# must notice its connections died and answer from fresh ones: every
# delivery 200 at the first attempt, none 500.
scenario_idle_pool_crash() {
    local db=sw_fault_idle_pool_crash name=idle_pool_crash pid= i is_fig
    PORT=$(sw_free_port)
    storm_relay_start "$db" "$PORT" --pool-size 4 ||
        { PORT=$(sw_free_port); storm_relay_start "$db" "$PORT" --pool-size 4; } ||
        { ok 1 "$name: relay starts"; return; }
    psql -qAtX -d "$db" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
    for i in $(seq 1 100); do
        pid=$(storm_q "$db" "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")
        [ -n "$pid" ] && break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    ok $? "$name: kill -9 of an unrelated backend while the relay's 4 connections are idle"
    FAULTS=$((FAULTS + 1))
    wait_db "$db"
    sleep 1
    storm_driver "$db" "$PORT" "$name" --copies 1 --connections 4 --retry-for 30
    storm_driver_tap "$name" $?
    is_fig=$(storm_fig "$name" first_pass_status)
    [ "$is_fig" = "{\"200\": $(storm_q "$db" "SELECT count(*) FROM sw_proof.paid_sessions")}" ]
    ok $? "$name: after the crash reset every delivery is answered 200 at the first attempt" \
        "first pass: $is_fig (a 500 here is a dead pooled connection reported as \"database error\")"
    storm_relay_stop
    storm_check "$db" "$name"
}

scenario_pg_restart() {
    local db=sw_fault_pg_restart name=pg_restart old new
    start_load "$db" "$name" || return
    old=$(head -1 "$SW_PGDATA/postmaster.pid")
    sw_pg_ctl restart -m immediate -w -t 60 -l "$SW_PGLOG" >/dev/null 2>&1
    new=$(head -1 "$SW_PGDATA/postmaster.pid")
    say "$name: postmaster $old restarted immediately as $new"
    FAULTS=$((FAULTS + 1))
    [ -n "$new" ] && [ "$new" != "$old" ]
    ok $? "$name: pg_ctl restart -m immediate in the middle of the load"
    finish_load "$db" "$name"
    [ "$(resent "$name")" -gt 0 ]
    ok $? "$name: the fault hit the load: $(resent "$name") deliveries had to be re-sent"
}

scenario_relay_kill() {
    local db=sw_fault_relay_kill name=relay_kill old
    start_load "$db" "$name" || return
    old=$RELAY_PID
    storm_relay_kill
    sleep 0.3
    storm_relay_start "$db" "$PORT" --pool-size 16
    ok $? "$name: relay $old killed with SIGKILL in the middle of the load, restarted as $RELAY_PID"
    FAULTS=$((FAULTS + 1))
    finish_load "$db" "$name"
    [ "$(resent "$name")" -gt 0 ]
    ok $? "$name: the fault hit the load: $(resent "$name") deliveries had to be re-sent"
}

# hold_products DB: another session takes the scarce products' row locks and
# keeps them (in an open transaction fed through a FIFO) until
# release_products; returns once it holds them.
hold_products() {
    local i
    rm -f "$STORM_WORK/hold.fifo"
    mkfifo "$STORM_WORK/hold.fifo"
    psql -qAtX -v ON_ERROR_STOP=1 -d "$1" <"$STORM_WORK/hold.fifo" >"$STORM_WORK/holder.log" 2>&1 &
    HOLDER_PID=$!
    exec 8>"$STORM_WORK/hold.fifo"
    echo "BEGIN; SELECT id FROM stripe_webhook.products WHERE id > 100 FOR UPDATE;" >&8
    for i in $(seq 1 250); do
        [ "$(storm_q "$1" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                           WHERE a.datname = current_database() AND a.state = 'idle in transaction'
                             AND l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'")" = 1 ] && return 0
        sleep 0.02
    done
    return 1
}

# release_products: end the holder's transaction.
release_products() {
    # \q: the relay and the driver inherited the FIFO, so psql sees no EOF
    printf 'COMMIT;\n\\q\n' >&8
    exec 8>&-
    wait "$HOLDER_PID"
    HOLDER_PID=
}

# timeout_scenario NAME LOCK_TIMEOUT STATEMENT_TIMEOUT SQLSTATE: the relay's
# role gets the timeouts; the scarce products stay locked by another session
# for the whole first pass of the storm, so every fulfilment that needs one
# waits until a timeout cancels it (503); the re-sends after the locks are
# released succeed.
timeout_scenario() {
    local name=$1 db=sw_fault_$1 sqlstate=$4 hit
    storm_db_create "$db" "$SESSIONS" || { ok 1 "$name: setup"; return; }
    role_settings "$2" "$3"
    hold_products "$db"
    ok $? "$name: another session holds the scarce products' row locks" "$(cat "$STORM_WORK/holder.log")"
    start_load "$db" "$name" || return
    storm_wait_progress "$name" "$TOTAL" 120
    release_products
    FAULTS=$((FAULTS + 1))
    finish_load "$db" "$name"
    role_settings 5s 20s
    hit=$(storm_q "$db" "SELECT count(*) FROM stripe_webhook.events WHERE last_sqlstate = '$sqlstate'")
    [ "$hit" -gt 0 ] && [ "$(storm_fig "$name" first_pass_status | grep -c '"503"')" = 1 ]
    ok $? "$name: $hit fulfilments hit SQLSTATE $sqlstate while the locks were held and were answered 503" \
        "first pass: $(storm_fig "$name" first_pass_status)"
    [ "$(storm_q "$db" "SELECT count(*) FROM stripe_webhook.events
                        WHERE last_sqlstate = '$sqlstate' AND (status <> 'processed' OR attempts < 2)")" = 0 ]
    ok $? "$name: each of them succeeded on a later delivery (processed, attempts >= 2)"
}

for s in $SCENARIOS; do
    say "--- $s ($SESSIONS carts)"
    STARTED=$SECONDS
    case $s in
        lock_timeout) timeout_scenario lock_timeout 200ms 20s 55P03 ;;
        statement_timeout) timeout_scenario statement_timeout 0 300ms 57014 ;;
        *)
            if storm_db_create "sw_fault_$s" "$SESSIONS"; then
                "scenario_$s"
            else
                ok 1 "$s: setup"
            fi
            ;;
    esac
    [ -n "$RELAY_PID" ] && storm_relay_kill
    say "$s: $((SECONDS - STARTED)) s"
done

say "faults injected: $FAULTS; checks failed: $FAILED of $N"
echo "1..$N"
if [ -z "$TAP" ]; then
    if [ "$FAILED" -eq 0 ]; then echo "faults: PASS ($N checks)"; else echo "faults: FAIL ($FAILED of $N checks failed)"; fi
fi
[ "$FAILED" -eq 0 ]
