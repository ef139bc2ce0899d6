#!/usr/bin/env bash
# bench/webhook/run.sh: what the webhook path costs on top of fulfilment.
#
#   ./bench/webhook/run.sh [TRANSACTIONS]     (default 4000 per measured run)
#
# Compares, in one run, on one throwaway cluster, with the same clients:
#   fulfil    stripe_fulfill_session(session) alone: the issue 3 transaction
#   webhook   stripe_handle_webhook(payload, header): verify the signature
#             against the active secrets, look the event up, fulfil, record
#             the event with its outcome and payload (keep_payloads = all)
#   lean      the same with stripe_webhook.keep_payloads = unprocessed: a
#             processed event is recorded without its payload
# on pre-made 3-item carts, one fresh cart per transaction, at 1, 4 and 16
# clients.  Both pgbench scripts build the same 4.3 kB event from the paid
# fixture and sign it (HMAC-SHA256) in SQL, so the only difference between
# them is the code being compared.  Each client count runs ROUNDS times
# alternating the variants; the median throughput of each is reported with
# the overhead of webhook over fulfil.  Target: at most 10%.
#
# Environment: ROUNDS (default 3), SW_STAGE / SW_KEEP as for the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

TX=${1:-4000}
ROUNDS=${ROUNDS:-3}
CLIENTS="1 4 16"
SECRET=whsec_bench_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d /tmp/sw-bench-webhook.XXXXXX)
chmod 755 "$WORK"
STAGE_IS_OURS=
[ -z "${SW_STAGE:-}" ] && STAGE_IS_OURS=1

cleanup() {
    sw_cluster_stop
    [ -n "$STAGE_IS_OURS" ] && [ -z "${SW_KEEP:-}" ] && rm -rf "${SW_STAGE:-/nonexistent}"
    rm -rf "$WORK"
}
trap cleanup EXIT

sw_ensure_packages
sw_build_stage
sw_cluster_start bench "max_wal_size = 4GB" "checkpoint_timeout = 30min" "autovacuum = off"

# Every run (a warm-up per variant, then each client count and round for
# each variant) takes TX fresh carts.
VARIANTS="fulfil webhook webhook_lean"
CARTS=$((TX * (ROUNDS * 3 * 3 + 3) + 100))
TEMPLATE=$(sed -e 's/"id": "evt_[A-Za-z0-9]*"/"id": "evt_bench_@N@"/' \
               -e 's/"id": "cs_test_[A-Za-z0-9]*"/"id": "cs_bench_@N@"/' \
               -e 's/"user_id": "[^"]*"/"user_id": "bu@N@"/' \
               -e 's/"cart_id": "[^"]*"/"cart_id": "@N@"/' \
               -e 's/"client_reference_id": "[^"]*"/"client_reference_id": "@N@"/' \
               test/fixtures/event.checkout.session.completed.paid.json)
echo "# setting up $CARTS carts ..." >&2
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d bench -v carts="$CARTS" -v secret="$SECRET" -v template="$TEMPLATE" \
    -f bench/webhook/setup.sql >/dev/null
for s in fulfil webhook; do
    sed "s/@SECRET@/$SECRET/" "bench/webhook/$s.sql" >"$WORK/$s.sql"
done

# run VARIANT CLIENTS: one pgbench run, prints its tps (without connections).
# Variants: fulfil, webhook, webhook_lean (keep_payloads = unprocessed).
run() {
    local per_client=$((TX / $2)) out tps script=$1 opts=
    if [ "$1" = webhook_lean ]; then script=webhook; opts="-c stripe_webhook.keep_payloads=unprocessed"; fi
    psql -X -q -d bench -c "CHECKPOINT" >/dev/null
    out=$(PGOPTIONS="$opts" pgbench -n -M prepared -c "$2" -j "$2" -t "$per_client" -f "$WORK/$script.sql" bench 2>&1) || true
    tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)
    if [ -z "$tps" ] || ! printf '%s\n' "$out" | grep -q "number of failed transactions: 0 "; then
        echo "pgbench $1 at $2 clients failed:" >&2
        printf '%s\n' "$out" | grep -iE "error|failed" | head -5 >&2
        exit 1
    fi
    echo "$tps"
}

# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# overhead F W: percent more time per transaction for W than for F
overhead() { awk -v f="$1" -v w="$2" 'BEGIN {printf "%.1f%%", (f / w - 1) * 100}'; }

# Warm-up (caches, plans), not reported.
for v in $VARIANTS; do run "$v" 4 >/dev/null || exit 1; done

printf '\n%-8s %12s %12s %9s %14s %9s\n' clients "fulfil tps" "webhook tps" overhead "lean tps" overhead
for c in $CLIENTS; do
    f=() w=() l=()
    for _ in $(seq 1 "$ROUNDS"); do
        t=$(run fulfil "$c") || exit 1
        f+=("$t")
        t=$(run webhook "$c") || exit 1
        w+=("$t")
        t=$(run webhook_lean "$c") || exit 1
        l+=("$t")
    done
    fm=$(median "${f[@]}")
    wm=$(median "${w[@]}")
    lm=$(median "${l[@]}")
    printf '%-8s %12.0f %12.0f %9s %14.0f %9s\n' "$c" "$fm" "$wm" "$(overhead "$fm" "$wm")" "$lm" "$(overhead "$fm" "$lm")"
    echo "#   tps per round: fulfil ${f[*]}; webhook ${w[*]}; lean ${l[*]}" >&2
done

# Every measured delivery must have been a 200 that made a confirmed order.
read -r orders events bad < <(psql -X -qtA -F ' ' -d bench -c "
    SELECT (SELECT count(*) FROM stripe_webhook.orders),
           (SELECT count(*) FROM stripe_webhook.events),
           (SELECT count(*) FROM stripe_webhook.events WHERE status <> 'processed')
           + (SELECT count(*) FROM stripe_webhook.orders WHERE status <> 'confirmed')")
echo
echo "orders: $orders, events recorded: $events, not processed or not confirmed: $bad"
echo "webhook: stripe_handle_webhook() with stripe_webhook.keep_payloads = all (the default);"
echo "lean: the same with keep_payloads = unprocessed (processed events keep no payload)."
echo "overhead = fulfil tps / webhook tps - 1: the extra time per delivery relative to fulfilment alone."
[ "$bad" -eq 0 ]
