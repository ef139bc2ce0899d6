#!/usr/bin/env bash
# bench/relay/run.sh: what stripe-webhook-relay adds on top of the database.
#
#   ./bench/relay/run.sh
#
# Environment: SW_BENCH_SECONDS (per run, default 6), SW_BENCH_ROUNDS
# (default 3), SW_BENCH_RATE (the most events/s one run may reach, default
# 4000: sizes the events made up front; a run that uses up its share stops
# the benchmark with a message), RELAY_POOL_SIZE (default 4), SW_STAGE/SW_KEEP
# as for the tests.  About 6 minutes with the defaults.
#
# The work: stripe_webhook.stripe_handle_webhook() on a distinct
# checkout.session.completed (the demo event's shape, about 3.5 kB) for a
# pre-made 3-item cart: verify the signature, record the event, lock the
# cart, create the order and its items, take the stock, give the user a new
# cart.  Every delivery is a new event; each is signed just before its run
# (a fresh timestamp, the default 300 s tolerance stays on).
#
# In one run, on one throwaway cluster (settings as bench/fulfil and
# bench/webhook: per-step log at debug1, synchronous_commit off, autovacuum
# off), in alternating rounds of SW_BENCH_SECONDS each:
#   database   pgbench calls stripe_handle_webhook() directly, no HTTP: the
#              database's own ceiling for this work, at 16 and 64 clients
#              and at the relay's pool size (what the relay itself asks of
#              the database); the ceiling is the best of these
#   relay      wrk (bench/relay/post_events.lua) posts the events over HTTP
#              to stripe-webhook-relay at 16 and 64 connections
# and prints the medians over the rounds of events/s, p50 and p99 latency.
# pgbench's figures come from its per-transaction log, leaving out the
# first second (fresh backends load the library and plan their statements;
# the relay's pooled connections did that in the warm-up).  Each row also
# gives the CPU time per delivery of the database server, the relay and
# the client, read from /proc: on this 2-core machine the three share the
# cores, so CPU per delivery is what decides the ceiling, and it hardly
# moves when other work shares the machine.
# Targets: at 16 connections the relay adds at most 15% over the database
# (throughput at least 85% of the ceiling) and its p99 stays under 50 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh
. bench/lib.sh

SECS=${SW_BENCH_SECONDS:-6}
ROUNDS=${SW_BENCH_ROUNDS:-3}
RATE=${SW_BENCH_RATE:-4000}
CLIENTS="16 64"
POOL=${RELAY_POOL_SIZE:-4}
CAP=$((SECS * RATE))                       # events offered to one run
RUNS=$((2 + ROUNDS * 5))                   # two warm-ups, five runs a round
TOTAL=$((RUNS * SECS * RATE * 3 / 4 + CAP))   # not every run reaches RATE
TEMPLATE=demo/checkout.session.completed.json
SECRET=whsec_bench_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d /tmp/sw-bench-relay.XXXXXX)
RELAY_PID=
NEXT=1                                     # the first event no run has had
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

# relay_us: CPU time used so far by the relay (all its threads).
relay_us() {
    local line rest
    read -r line <"/proc/$RELAY_PID/stat"
    rest=${line##*) }
    set -- $rest
    echo $(((${12} + ${13}) * BENCH_TICK_US))
}

# children_us: CPU time of this shell's finished children (pgbench, wrk)
# into CHILD_US.  Not called as $(...): times must run in this shell.
children_us() {
    times >"$WORK/times"
    CHILD_US=$(tail -1 "$WORK/times" | awk '{ n = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] }
        printf "%.0f\n", n * 1e6 }')
}

# cpu_start / cpu_stop DELIVERIES: CPU per delivery into SRV_US, RELAY_US
# and CLIENT_US.
cpu_start() {
    children_us
    C0=$CHILD_US S0=$(bench_server_cpu_us) R0=$(relay_us)
}
cpu_stop() {
    local n=$1
    sleep 0.2    # let the postmaster reap the backends
    SRV_US=$((($(bench_server_cpu_us) - S0) / n))
    RELAY_US=$((($(relay_us) - R0) / n))
    children_us
    CLIENT_US=$(((CHILD_US - C0) / n))
}

# take_slice: the next CAP events, signed now; sets LO and HI (exclusive).
take_slice() {
    LO=$NEXT HI=$((NEXT + CAP))
    if [ "$HI" -gt "$((TOTAL + 1))" ]; then
        echo "bench/relay: out of events ($TOTAL made); raise SW_BENCH_RATE" >&2
        exit 1
    fi
    psql_bench -v lo="$LO" -v hi="$HI" -v secret="$SECRET" <<'SQL'
UPDATE public.bench_events
SET header = stripe_webhook.stripe_signature_header(body, :'secret')
WHERE n >= :lo AND n < :hi;
SQL
}

# settle_slice: count what the run delivered (DONE) and what it did not
# process (BAD), and move NEXT past the events it used.
settle_slice() {
    local last
    read -r DONE BAD last < <(psql_bench -At -F' ' -v lo="$LO" -v hi="$HI" <<'SQL'
SELECT count(*), count(*) FILTER (WHERE e.status <> 'processed'),
       coalesce(max(substr(e.id, 11)::int), :lo - 1)
FROM stripe_webhook.events e
WHERE e.id LIKE 'evt_bench_%' AND substr(e.id, 11)::int >= :lo AND substr(e.id, 11)::int < :hi;
SQL
    )
    if [ "$last" -ge "$((HI - 1))" ]; then
        echo "bench/relay: a run used all $CAP events it was given; raise SW_BENCH_RATE" >&2
        exit 1
    fi
    NEXT=$((last + 1))
}

# run_db CLIENTS: pgbench for SECS over fresh events; sets TPS P50 P99 BAD
# and the CPU figures.
run_db() {
    local c=$1
    take_slice
    psql_bench -c "SELECT pg_catalog.setval('public.bench_next', $LO, false)" >/dev/null
    psql_bench -c "CHECKPOINT" >/dev/null
    rm -f "$WORK"/pgb.*
    cpu_start
    (cd "$WORK" && pgbench -n -M prepared -c "$c" -j 2 -T "$SECS" -f "$WORK/db.sql" \
        --log --log-prefix=pgb bench >"$WORK/db.pgbench" 2>&1) ||
        { cat "$WORK/db.pgbench" >&2; exit 1; }
    settle_slice
    cpu_stop "$DONE"
    # log line: client_id transaction_no latency_us script_no epoch_s epoch_us
    cat "$WORK"/pgb.* | awk -v out="$WORK/db.lat" '
        { t[NR] = $5 + $6 / 1e6; lat[NR] = $3 / 1000; if (NR == 1 || t[NR] < first) first = t[NR]
          if (t[NR] > done[$1]) done[$1] = t[NR] }
        END { for (k in done) if (end == "" || done[k] < end) end = done[k]
              from = first + 1; n = 0
              for (i = 1; i <= NR; i++) if (t[i] >= from && t[i] <= end) { n++; print lat[i] > out }
              printf "%.1f\n", n / (end - from) }' >"$WORK/db.tps"
    TPS=$(cat "$WORK/db.tps")
    P50=$(printf '%.1f' "$(percentile "$WORK/db.lat" 50)")
    P99=$(printf '%.1f' "$(percentile "$WORK/db.lat" 99)")
    rm -f "$WORK/db.lat"
}

# run_relay CONNECTIONS: wrk for SECS over fresh events; sets TPS P50 P99
# BAD and the CPU figures.
run_relay() {
    local c=$1 ran_out non200
    take_slice
    psql_bench -At -c "SELECT header || chr(9) || body FROM public.bench_events
                       WHERE n >= $LO AND n < $HI ORDER BY n" >"$WORK/relay.events"
    psql_bench -c "CHECKPOINT" >/dev/null
    cpu_start
    wrk -t 2 -c "$c" -d "${SECS}s" --timeout 10s --latency -s bench/relay/post_events.lua \
        "http://127.0.0.1:$RELAY_PORT" -- "$WORK/relay.events" 2 >"$WORK/relay.wrk" 2>&1 ||
        { cat "$WORK/relay.wrk" >&2; exit 1; }
    settle_slice
    cpu_stop "$DONE"
    ran_out=$(awk '$1 == "ran_out" { print $2 }' "$WORK/relay.wrk")
    if [ "${ran_out:-1}" != 0 ]; then
        echo "bench/relay: wrk ran out of events; raise SW_BENCH_RATE" >&2
        exit 1
    fi
    non200=$(awk '/^ *Non-2xx or 3xx responses:/ { print $NF }' "$WORK/relay.wrk")
    BAD=$((BAD + ${non200:-0}))
    TPS=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/relay.wrk")
    P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$WORK/relay.wrk")")
    P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$WORK/relay.wrk")")
}

echo "# setting up (packages, build, cluster, $TOTAL carts and events)" >&2
sw_ensure_packages wrk
sw_build_stage 2>"$WORK/build.log" || { cat "$WORK/build.log"; exit 1; }
sw_cluster_start bench "max_connections = 300" "stripe_webhook.log_level = debug1" \
    "synchronous_commit = off" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "autovacuum = off" >/dev/null
createdb bench
psql_bench >/dev/null <<SQL
CREATE EXTENSION stripe_webhook;
\i sql/relay_role.sql
INSERT INTO stripe_webhook.signing_secrets (secret) VALUES ('$SECRET');
SQL

# Products with stock for every cart; the carts (3 lines each) and one
# event per cart.  Cart n belongs to user bench-n; its event is evt_bench_n.
psql_bench -v tmpl="$(cat "$TEMPLATE")" -v total="$TOTAL" >/dev/null <<'SQL'
INSERT INTO stripe_webhook.products (id, name, price_amount, currency, stock)
SELECT g, 'bench product ' || g, 100 + g, 'usd', 1000000000 FROM generate_series(1, 1000) g;

INSERT INTO stripe_webhook.carts (id, user_id)
SELECT n, 'bench-' || n FROM generate_series(1, :total) n;
SELECT setval(pg_get_serial_sequence('stripe_webhook.carts', 'id'), (SELECT max(id) FROM stripe_webhook.carts));
INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity)
SELECT c.id, v.p, v.q
FROM stripe_webhook.carts c,
     LATERAL (VALUES ((c.id * 7919) % 1000 + 1, 1), ((c.id * 7919 + 331) % 1000 + 1, 2),
                     ((c.id * 7919 + 667) % 1000 + 1, 1)) v(p, q);

ANALYZE stripe_webhook.carts, stripe_webhook.cart_items, stripe_webhook.products;

CREATE TABLE public.bench_events (n integer PRIMARY KEY, body text NOT NULL, header text);
-- The template once, its six varying values as format() arguments (%1$s..);
-- filling in text is far cheaper than six jsonb_set() per event.
SELECT replace(replace(replace(replace(replace(replace(replace(
           jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'tmpl'::jsonb,
               '{id}', '"@1"'), '{data,object,id}', '"@2"'),
               '{data,object,client_reference_id}', '"@3"'),
               '{data,object,metadata}', '{"user_id": "@4", "cart_id": "@3"}'),
               '{data,object,amount_subtotal}', '"@5"'), '{data,object,amount_total}', '"@6"')::text,
           '%', '%%'), '"@1"', '"evt_bench_%1$s"'), '"@2"', '"cs_bench_%1$s"'), '"@3"', '"%1$s"'),
           '"@4"', '"%2$s"'), '"@5"', '%3$s'), '"@6"', '%4$s') AS fmt \gset
INSERT INTO public.bench_events (n, body)
SELECT c.id, format(:'fmt', c.id, c.user_id, s.subtotal, s.subtotal + 500)
FROM stripe_webhook.carts c
CROSS JOIN LATERAL (SELECT sum(i.quantity * p.price_amount) AS subtotal
                    FROM stripe_webhook.cart_items i JOIN stripe_webhook.products p ON p.id = i.product_id
                    WHERE i.cart_id = c.id) s;
-- the events are valid Stripe events for their carts
DO $check$
BEGIN
    IF EXISTS (SELECT FROM public.bench_events e
               WHERE e.n <= 100 AND ((e.body::jsonb #>> '{data,object,metadata,cart_id}')::int <> e.n
                                     OR e.body::jsonb ->> 'id' <> 'evt_bench_' || e.n)) THEN
        RAISE EXCEPTION 'bench/relay: the events do not name their carts';
    END IF;
END
$check$;

CREATE SEQUENCE public.bench_next;
VACUUM ANALYZE;
SQL
cat >"$WORK/db.sql" <<'SQL'
SELECT stripe_webhook.stripe_handle_webhook(e.body, e.header) ->> 'status'
FROM public.bench_events e
WHERE e.n = (SELECT pg_catalog.nextval('public.bench_next'));
SQL

RELAY_PORT=$(sw_free_port)
# every wrk connection comes from 127.0.0.1, as behind a reverse proxy: no
# per-address cap (64 connections is exactly the default cap)
"$SW_BINDIR/stripe-webhook-relay" --listen "127.0.0.1:$RELAY_PORT" \
    --database-url "host=$PGHOST port=$PGPORT dbname=bench user=stripe_webhook_relay" \
    --pool-size "$POOL" --max-connections-per-ip 0 2>"$WORK/relay.log" &
RELAY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/healthz" && break
    sleep 0.05
done

echo "# warming up" >&2
run_db 16
run_relay 16

# The rows, in the order they are printed: key, clients, label.
ROWS="dbpool:$POOL:database: pgbench (relay's pool)"
for c in $CLIENTS; do
    ROWS="$ROWS|db$c:$c:database: pgbench, no HTTP|relay$c:$c:relay: wrk -> HTTP -> relay -> db"
done
declare -A R_TPS R_P50 R_P99 R_BAD R_SRV R_REL R_CLI
for r in $(seq 1 "$ROUNDS"); do
    echo "# round $r of $ROUNDS" >&2
    IFS='|' read -ra rows <<<"$ROWS"
    for row in "${rows[@]}"; do
        IFS=: read -r key c _ <<<"$row"
        case $key in
            relay*) run_relay "$c"; rel=$RELAY_US ;;
            *) run_db "$c"; rel=- ;;
        esac
        R_TPS[$key]+="$TPS " R_P50[$key]+="$P50 " R_P99[$key]+="$P99 " R_BAD[$key]+="$BAD "
        R_SRV[$key]+="$SRV_US " R_REL[$key]+="$rel " R_CLI[$key]+="$CLIENT_US "
    done
done

printf 'stripe-webhook-relay benchmark: checkout.session.completed, 3-item carts, every delivery a new event\n'
printf '%s CPUs, relay pool %s connections; medians of %s rounds of %s s per row\n' \
    "$(nproc)" "$POOL" "$ROUNDS" "$SECS"
printf 'cpu_us: CPU time per delivery of the database server, the relay, the client (pgbench or wrk)\n'
printf 'load average at the end: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
HEAD='%-7s %-34s %8s %7s %7s %6s | %6s %6s %6s\n'
printf "$HEAD" clients path events/s p50_ms p99_ms not_ok "cpu_us" "" ""
printf "$HEAD" "" "" "" "" "" "" server relay client
declare -A M_TPS M_P99
IFS='|' read -ra rows <<<"$ROWS"
for row in "${rows[@]}"; do
    IFS=: read -r key c label <<<"$row"
    M_TPS[$key]=$(bench_median ${R_TPS[$key]}) M_P99[$key]=$(bench_median ${R_P99[$key]})
    bad=0
    for b in ${R_BAD[$key]}; do bad=$((bad + b)); done
    if [ "${key#relay}" != "$key" ]; then rel=$(bench_median ${R_REL[$key]}); else rel=-; fi
    printf "$HEAD" "$c" "$label" "$(printf '%.0f' "${M_TPS[$key]}")" "$(bench_median ${R_P50[$key]})" \
        "${M_P99[$key]}" "$bad" "$(bench_median ${R_SRV[$key]})" "$rel" "$(bench_median ${R_CLI[$key]})"
done
echo
for c in $CLIENTS; do
    awk -v r="${M_TPS[relay$c]}" -v d="${M_TPS[db$c]}" -v p="${M_TPS[dbpool]}" -v c="$c" \
        -v pool="$POOL" -v p99="${M_P99[relay$c]}" 'BEGIN {
        best = (p > d ? p : d)
        printf "%d connections: relay %.0f events/s = %.0f%% of the database ceiling (%.0f, best of pgbench at %d and %d); p99 %.1f ms\n",
            c, r, 100 * r / best, best, pool, c, p99
        if (c == 16)
            printf "targets at 16: throughput >= 85%% of the ceiling: %s; p99 < 50 ms: %s\n",
                (r >= 0.85 * best ? "met" : "MISSED"), (p99 < 50 ? "met" : "MISSED") }'
done
echo
psql_bench -At -c "SELECT 'events by status: ' || string_agg(status || ' ' || n, ', ') FROM
                   (SELECT status, count(*) AS n FROM stripe_webhook.events GROUP BY status) s"
psql_bench -At -c "SELECT 'orders: ' || count(*) || ', confirmed: ' || count(*) FILTER (WHERE status = 'confirmed')
                   FROM stripe_webhook.orders"
