#!/usr/bin/env bash
# bench/relay/run.sh: what stripe-webhook-relay adds on top of the database.
#
#   ./bench/relay/run.sh [EVENTS]          (default 15000 per measured run)
#
# The work: stripe_webhook.stripe_handle_webhook() on a distinct
# checkout.session.completed (the demo event's shape, about 3.5 kB) for a
# pre-made 3-item cart: verify the signature, record the event, lock the
# cart, create the order and its items, take the stock, give the user a new
# cart.  Each event is signed just before its run (a fresh timestamp, the
# default 300 s tolerance stays on) and delivered once.
#
# In one run, on one throwaway cluster (settings as bench/fulfil and
# bench/webhook: per-step log at debug1, synchronous_commit off, autovacuum
# off), at 16 and at 64 concurrent clients:
#   database   pgbench calls stripe_handle_webhook() directly, no HTTP: the
#              database's own ceiling for this work; also at the relay's pool
#              size (4), which is what the relay itself asks of the database
#   relay      wrk (bench/relay/post_events.lua) posts the events over HTTP
#              to stripe-webhook-relay (default pool of 4 connections)
# and prints events/s, p50 and p99 latency side by side.  pgbench figures
# are its steady state (see run_db); wrk's are its own.  Because throughput
# moves with whatever else runs on the machine, each row also gives the CPU
# time per delivery of the database server, the relay and the client, read
# from /proc: on this 2-core machine the three share the cores, so a path's
# throughput ceiling is about 2 s / (its CPU per delivery).
# Targets: at 16 connections the relay adds at most 15% over the database
# (throughput at least 85% of the ceiling; its own CPU at most 15% of the
# database's), and its p99 stays under 50 ms.
#
# Every run delivers a fixed number of events, each once: wrk's threads stop
# when their share is sent; pgbench runs a fixed number of transactions.
#
# Environment: RELAY_POOL_SIZE, SW_STAGE/SW_KEEP as for the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

EVENTS=${1:-15000}
DB_WARM=2
CLIENTS="16 64"
WARM_EVENTS=4000                # the warm-up runs; and pgbench's extra
POOL=${RELAY_POOL_SIZE:-4}
TEMPLATE=demo/checkout.session.completed.json
TICK_US=$((1000000 / $(getconf CLK_TCK)))
SECRET=whsec_bench_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d /tmp/sw-bench-relay.XXXXXX)
RELAY_PID=
STAGE_IS_OURS=
[ -z "${SW_STAGE:-}" ] && STAGE_IS_OURS=1

cleanup() {
    if [ -n "$RELAY_PID" ]; then
        kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    fi
    sw_cluster_stop
    [ -n "$STAGE_IS_OURS" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "${SW_STAGE:-/nonexistent}"
    rm -rf "$WORK"
}
trap cleanup EXIT

# psql_bench ARGS...: psql on the benchmark database, stop on errors.
psql_bench() {
    psql -X -q -v ON_ERROR_STOP=1 -d bench "$@"
}

# to_ms VALUE: wrk latency ("850.00us", "6.42ms", "1.02s") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
        printf "%.1f", n }'
}

# percentile FILE P: the P-th percentile (0-100) of the numbers in FILE.
percentile() {
    sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END {
        i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'
}

# server_us: CPU time (microseconds) used so far by the cluster: the
# postmaster, the backends it has reaped (its cutime/cstime) and its live
# children.  Unlike throughput, CPU time per delivery hardly moves when
# other work shares the machine.
server_us() {
    local t=0 s line rest
    for s in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$s" || continue
        rest=${line##*) }
        set -- $rest
        if [ "$s" = "/proc/$SW_PGPID/stat" ]; then
            t=$((t + ${12} + ${13} + ${14} + ${15}))
        elif [ "$2" = "$SW_PGPID" ]; then
            t=$((t + ${12} + ${13}))
        fi
    done
    echo $((t * TICK_US))
}

# relay_us: CPU time used so far by the relay (all its threads).
relay_us() {
    local line rest
    read -r line <"/proc/$RELAY_PID/stat"
    rest=${line##*) }
    set -- $rest
    echo $(((${12} + ${13}) * TICK_US))
}

# children_us: CPU time of this shell's finished children (pgbench, wrk)
# into CHILD_US.  Not called as $(...): times must run in this shell.
children_us() {
    times >"$WORK/times"
    CHILD_US=$(tail -1 "$WORK/times" | awk '{ n = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] }
        printf "%.0f\n", n * 1e6 }')
}

# cpu_start / cpu_stop PHASE: CPU per delivery of PHASE into SRV_US,
# RELAY_US (0 when the relay was not used) and CLIENT_US.
cpu_start() {
    children_us
    C0=$CHILD_US S0=$(server_us) R0=$(relay_us)
}
cpu_stop() {
    local n
    sleep 0.2    # let the postmaster reap the backends
    n=$(psql_bench -At -c "SELECT count(*) FROM stripe_webhook.events WHERE id LIKE 'evt_bench_$1_%'")
    SRV_US=$((($(server_us) - S0) / n))
    RELAY_US=$((($(relay_us) - R0) / n))
    children_us
    CLIENT_US=$(((CHILD_US - C0) / n))
}

# sign PHASE: sign PHASE's events now (a fresh timestamp).
sign() {
    psql_bench -v phase="$1" -v secret="$SECRET" <<'SQL'
UPDATE public.bench_events
SET header = stripe_webhook.stripe_signature_header(body, :'secret')
WHERE phase = :'phase';
SQL
}

# run_db PHASE CLIENTS: pgbench over PHASE's events; sets TPS P50 P99 BAD
# and the CPU figures.  pgbench opens fresh connections, and a fresh
# backend's first calls load the library, its catalog entries and its cached
# plans; the relay's pooled connections are past that.  So pgbench runs
# WARM_EVENTS more transactions, and the figures come from its
# per-transaction log over the steady state only: from DB_WARM seconds after
# the first completion until the first client is done (after that fewer
# clients are left).
run_db() {
    local phase=$1 c=$2
    sign "$phase"
    cat >"$WORK/$phase.sql" <<SQL
SELECT stripe_webhook.stripe_handle_webhook(e.body, e.header) ->> 'status'
FROM public.bench_events e
WHERE e.phase = '$phase' AND e.n = (SELECT pg_catalog.nextval('public.seq_$phase'));
SQL
    psql_bench -c "CHECKPOINT" >/dev/null
    cpu_start
    (cd "$WORK" && pgbench -n -M prepared -c "$c" -j 2 -t "$(($(phase_size "$phase") / c))" -f "$phase.sql" \
        --log --log-prefix="pgb_$phase" bench >"$WORK/$phase.pgbench" 2>&1)
    cpu_stop "$phase"
    # log line: client_id transaction_no latency_us script_no epoch_s epoch_us
    cat "$WORK"/pgb_"$phase".* | awk -v warm="$DB_WARM" -v out="$WORK/$phase.lat" '
        { t[NR] = $5 + $6 / 1e6; lat[NR] = $3 / 1000; if (NR == 1 || t[NR] < first) first = t[NR]
          if (t[NR] > done[$1]) done[$1] = t[NR] }
        END { for (k in done) if (end == "" || done[k] < end) end = done[k]
              from = first + warm; n = 0
              for (i = 1; i <= NR; i++) if (t[i] >= from && t[i] <= end) { n++; print lat[i] > out }
              printf "%.1f\n", n / (end - from) }' >"$WORK/$phase.tps"
    TPS=$(cat "$WORK/$phase.tps")
    P50=$(printf '%.1f' "$(percentile "$WORK/$phase.lat" 50)")
    P99=$(printf '%.1f' "$(percentile "$WORK/$phase.lat" 99)")
    BAD=$(psql_bench -At -c "SELECT count(*) FROM stripe_webhook.events
                             WHERE id LIKE 'evt_bench_${phase}_%' AND status <> 'processed'")
}

# run_relay PHASE CLIENTS: wrk over PHASE's events until they are all sent;
# sets TPS P50 P99 BAD and the CPU figures.
run_relay() {
    local phase=$1 c=$2 out
    sign "$phase"
    psql_bench -At -c "SELECT header || chr(9) || body FROM public.bench_events
                       WHERE phase = '$phase' ORDER BY n" >"$WORK/$phase.events"
    psql_bench -c "CHECKPOINT" >/dev/null
    cpu_start
    out=$(wrk -t 2 -c "$c" -d 600s --timeout 10s --latency -s bench/relay/post_events.lua \
        "http://127.0.0.1:$RELAY_PORT" -- "$WORK/$phase.events" 2 2>&1)
    cpu_stop "$phase"
    echo "$out" >"$WORK/$phase.wrk"
    TPS=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
    P50=$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
    P99=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
    BAD=$(echo "$out" | awk '$1 == "non200" { print $2 }')
}

# phase_size PHASE: how many events PHASE has.
phase_size() {
    case $1 in warm_*) echo "$WARM_EVENTS" ;; db*) echo "$((EVENTS + WARM_EVENTS))" ;; *) echo "$EVENTS" ;; esac
}

echo "# setting up (packages, build, cluster, $((5 * EVENTS + 5 * WARM_EVENTS)) carts and events)" >&2
sw_ensure_packages wrk
sw_build_stage 2>"$WORK/build.log" || { cat "$WORK/build.log"; exit 1; }
sw_cluster_start bench "max_connections = 300" "stripe_webhook.log_level = debug1" \
    "synchronous_commit = off" "max_wal_size = 4GB" "checkpoint_timeout = 30min" "autovacuum = off" >/dev/null
createdb bench
psql_bench >/dev/null <<SQL
CREATE EXTENSION stripe_webhook;
\i sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
SQL

# Products with stock for every cart; the carts (3 lines each) and their
# events, one set per phase.  Cart n belongs to user bench-n.
PHASES="warm_db warm_relay dbpool"
for c in $CLIENTS; do PHASES="$PHASES db$c relay$c"; done
psql_bench -v tmpl="$(cat "$TEMPLATE")" -v phases="$PHASES" \
    -v per_run="$EVENTS" -v per_db="$((EVENTS + WARM_EVENTS))" -v per_warm="$WARM_EVENTS" >/dev/null <<'SQL'
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT g, 'bench product ' || g, 100 + g, 'usd', 1000000000 FROM generate_series(1, 1000) g;

CREATE TABLE public.bench_phases AS
SELECT p.phase, p.ord,
       coalesce(sum(p.size) OVER (ORDER BY p.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first_cart,
       p.size
FROM (SELECT phase, ord, CASE WHEN phase LIKE 'warm_%' THEN :per_warm
                               WHEN phase LIKE 'db%' THEN :per_db ELSE :per_run END AS size
      FROM unnest(string_to_array(:'phases', ' ')) WITH ORDINALITY AS u(phase, ord)) p;

INSERT INTO stripe_webhook.carts (id, user_id)
SELECT n, 'bench-' || n FROM generate_series(1, (SELECT sum(size) FROM public.bench_phases)::int) n;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), (SELECT max(id) FROM stripe_webhook.carts));
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c.id, v.p, v.q
FROM stripe_webhook.carts c,
     LATERAL (VALUES ((c.id * 7919) % 1000 + 1, 1), ((c.id * 7919 + 331) % 1000 + 1, 2),
                     ((c.id * 7919 + 667) % 1000 + 1, 1)) v(p, q);

CREATE TABLE public.bench_events (phase text, n integer, body text NOT NULL, header text,
                                  PRIMARY KEY (phase, n));
INSERT INTO public.bench_events (phase, n, body)
SELECT ph.phase, (c.id - ph.first_cart)::int,
       jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'tmpl'::jsonb,
           '{id}', to_jsonb('evt_bench_' || ph.phase || '_' || c.id)),
           '{data,object,id}', to_jsonb('cs_bench_' || c.id)),
           '{data,object,client_reference_id}', to_jsonb(c.id::text)),
           '{data,object,metadata}', jsonb_build_object('user_id', c.user_id, 'cart_id', c.id::text)),
           '{data,object,amount_subtotal}', to_jsonb(s.subtotal)),
           '{data,object,amount_total}', to_jsonb(s.subtotal + 500))::text
FROM stripe_webhook.carts c
JOIN public.bench_phases ph ON c.id > ph.first_cart AND c.id <= ph.first_cart + ph.size
CROSS JOIN LATERAL (SELECT sum(i.quantity * p.price_amount) AS subtotal
                    FROM stripe_webhook.cart_items i JOIN stripe_webhook.products p ON p.id = i.product_id
                    WHERE i.cart_id = c.id) s;

SELECT format('CREATE SEQUENCE public.seq_%s', phase) FROM public.bench_phases \gexec
VACUUM ANALYZE;
SQL

RELAY_PORT=$(sw_free_port)
"$SW_BINDIR/stripe-webhook-relay" --listen "127.0.0.1:$RELAY_PORT" \
    --database-url "host=$PGHOST port=$PGPORT dbname=bench user=stripe_webhook_relay" \
    --pool-size "$POOL" 2>"$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/healthz" && break
    sleep 0.05
done

echo "# warming up ($WARM_EVENTS events each)" >&2
run_db warm_db 16
run_relay warm_relay 16

printf 'stripe-webhook-relay benchmark: checkout.session.completed, 3-item carts, %d events per run,\n' "$EVENTS"
printf '%s CPUs, relay pool %s connections; each event distinct, signed just before its run\n' \
    "$(nproc)" "$POOL"
printf 'cpu_us: CPU time per delivery of the database server, the relay, the client (pgbench or wrk)\n'
printf 'load average at the start: %s (other work on the machine moves events/s, hardly cpu_us)\n\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
HEAD='%-7s %-34s %8s %7s %7s %6s | %6s %6s %6s\n'
ROW='%-7s %-34s %8.0f %7s %7s %6s | %6s %6s %6s\n'
printf "$HEAD" clients path events/s p50_ms p99_ms not_ok "cpu_us" "" ""
printf "$HEAD" "" "" "" "" "" "" server relay client
run_db dbpool "$POOL"
POOL_TPS=$TPS POOL_CPU=$((SRV_US + CLIENT_US))
printf "$ROW" "$POOL" "database: pgbench (relay's pool)" "$TPS" "$P50" "$P99" "$BAD" "$SRV_US" - "$CLIENT_US"
for c in $CLIENTS; do
    run_db "db$c" "$c"
    DB_TPS=$TPS DB_P50=$P50
    printf "$ROW" "$c" "database: pgbench, no HTTP" "$TPS" "$P50" "$P99" "$BAD" "$SRV_US" - "$CLIENT_US"
    run_relay "relay$c" "$c"
    printf "$ROW" "$c" "relay: wrk -> HTTP -> relay -> db" "$TPS" "$P50" "$P99" "$BAD" "$SRV_US" "$RELAY_US" "$CLIENT_US"
    awk -v r="$TPS" -v d="$DB_TPS" -v p="$POOL_TPS" -v rl="$P50" -v dl="$DB_P50" -v c="$c" \
        -v p99="$P99" -v pool="$POOL" -v srv="$SRV_US" -v rel="$RELAY_US" -v cli="$CLIENT_US" \
        -v dbcpu="$POOL_CPU" 'BEGIN {
        best = (p > d ? p : d)
        printf "  %d: relay/database throughput %.0f%% (at %d clients), %.0f%% (of the ceiling, best of %d and %d)\n", c,
            100 * r / d, c, 100 * r / best, pool, c
        printf "  %d: relay CPU %.0f%% of the database'"'"'s; all CPU per delivery %d us (server+relay+wrk) vs %d us (server+pgbench at %d)\n",
            c, 100 * rel / srv, srv + rel + cli, dbcpu, pool
        if (c == 16)
            printf "  targets at 16: throughput >= 85%% of the ceiling: %s; relay CPU <= 15%%: %s; p99 < 50 ms: %s\n",
                (r >= 0.85 * best ? "met" : "MISSED"), (rel <= 0.15 * srv ? "met" : "MISSED"), (p99 < 50 ? "met" : "MISSED") }'
done

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
psql_bench -At -c "SELECT 'events by status: ' || string_agg(status || ' ' || n, ', ') FROM
                   (SELECT status, count(*) AS n FROM stripe_webhook.events GROUP BY status) s"
psql_bench -At -c "SELECT 'orders: ' || count(*) || ', confirmed: ' || count(*) FILTER (WHERE status = 'confirmed')
                   FROM stripe_webhook.orders"
