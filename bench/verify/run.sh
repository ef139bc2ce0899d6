#!/usr/bin/env bash
# bench/verify/run.sh: per-call cost of stripe_verify_signature().
#
#   ./bench/verify/run.sh            (ROUNDS=7 by default; ROUNDS=n to change)
#
# Builds the extension into a private stage (test/lib/common.sh), starts a
# throwaway cluster, and measures side by side, for 1 KB, 4 KB and 16 KB
# payloads signed the way Stripe signs them:
#   extension  stripe_webhook.stripe_verify_signature(payload, header, secret, 300, at)
#   plpgsql    the same check written in PL/pgSQL with pgcrypto's hmac()
#              (bench/verify/plpgsql_verify.sql: what a user would write,
#              LANGUAGE plpgsql with the default volatility)
#   immutable  the same PL/pgSQL function declared IMMUTABLE
#   loop       the PL/pgSQL loop that drives the calls, with no call at all
#   floor      raw OpenSSL HMAC-SHA256 over the same bytes in a C loop, keyed
#              once (hmac_floor.c; what `openssl speed -hmac sha256` does)
# Figures are CPU time per call (clock_gettime(CLOCK_THREAD_CPUTIME_ID) in
# the backend via bench_cpu.c, CLOCK_PROCESS_CPUTIME_ID in the C loop), so
# waiting for a CPU on a shared machine does not count; each is the best of
# ROUNDS interleaved rounds, medians in brackets.  Stops the cluster it
# started; bench_cpu.so goes into the private stage only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib/common.sh

ROUNDS=${ROUNDS:-7}
SIZES="1024 4096 16384"
SECRET=whsec_bench_8f3kQv9ZpL2mX7rT4nB6cW1y
AT=1700000000
WORK=$(mktemp -d /tmp/sw-bench.XXXXXX)
chmod 755 "$WORK"
trap 'sw_cluster_stop; rm -rf "$WORK"' EXIT

sw_ensure_packages
sw_build_stage
make -s -C bench/verify PG_CONFIG="$SW_PG_CONFIG" OUT="$WORK" "$WORK/hmac_floor" all >&2
make -s -C bench/verify PG_CONFIG="$SW_PG_CONFIG" install DESTDIR="$SW_STAGE" >&2
sw_cluster_start bench "shared_preload_libraries = ''"
PSQL="psql -qAtX -v ON_ERROR_STOP=1"

$PSQL -c "CREATE EXTENSION stripe_webhook" -f bench/verify/plpgsql_verify.sql -f bench/verify/harness.sql >/dev/null
# Payloads: a Stripe-event-shaped JSON document of exactly SIZE bytes.
$PSQL >/dev/null <<SQL
CREATE TABLE bench.payloads (size integer PRIMARY KEY, payload text, header text);
ALTER TABLE bench.payloads ALTER payload SET STORAGE EXTERNAL;
INSERT INTO bench.payloads (size, payload)
SELECT size, head || repeat('lorem ipsum dolor sit amet ', size / 27 + 1) AS payload
  FROM unnest('{$(echo $SIZES | tr ' ' ,)}'::int[]) AS size,
       LATERAL (SELECT '{"id":"evt_bench_' || size || '","object":"event","type":"checkout.session.completed",'
                       '"data":{"object":{"id":"cs_test_bench","object":"checkout.session","metadata":{"note":"' AS head) AS h;
UPDATE bench.payloads SET payload = left(payload, size - 5) || '"}}}}';
UPDATE bench.payloads SET header = stripe_webhook.stripe_signature_header(payload, '$SECRET', pg_catalog.to_timestamp($AT));
SQL
for s in $SIZES; do
    $PSQL -c "SELECT payload FROM bench.payloads WHERE size = $s" >"$WORK/p$s"
    got=$($PSQL -c "SELECT octet_length(payload) FROM bench.payloads WHERE size = $s")
    [ "$got" = "$s" ] || { echo "payload of $got bytes, wanted $s" >&2; exit 1; }
    want=$($PSQL -c "SELECT split_part(header, 'v1=', 2) FROM bench.payloads WHERE size = $s")
    have=$("$WORK/hmac_floor" "$WORK/p$s" "$AT" "$SECRET" 1 | sed -n 's/^hex=//p')
    [ "$want" = "$have" ] || { echo "floor and extension sign different bytes ($s)" >&2; exit 1; }
done

# iterations per size: ~0.3 s per measurement on an idle machine
iters() { case $1 in 1024) echo $(($2 * 4)) ;; 4096) echo "$2" ;; *) echo $(($2 / 4)) ;; esac; }

: >"$WORK/results"
for r in $(seq 1 "$ROUNDS"); do
    for s in $SIZES; do
        n_ext=$(iters "$s" 25000)
        n_pl=$(iters "$s" 5000)
        floor=$("$WORK/hmac_floor" "$WORK/p$s" "$AT" "$SECRET" "$n_ext" | tail -1)
        sql=$($PSQL -F' ' -c "SELECT round(bench.time_calls('extension', $n_ext, payload, header, '$SECRET', pg_catalog.to_timestamp($AT))),
                                     round(bench.time_calls('plpgsql', $n_pl, payload, header, '$SECRET', pg_catalog.to_timestamp($AT))),
                                     round(bench.time_calls('plpgsql_immutable', $n_pl, payload, header, '$SECRET', pg_catalog.to_timestamp($AT))),
                                     round(bench.time_calls('loop', $n_ext, payload, header, '$SECRET', pg_catalog.to_timestamp($AT)))
                                FROM bench.payloads WHERE size = $s")
        echo "$s $sql $(echo "$floor" | sed 's/[a-z_]*=//g')" >>"$WORK/results"
    done
    echo "# round $r of $ROUNDS done" >&2
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "openssl speed -hmac sha256 -bytes 4096 (reference):"
speed=$(openssl speed -hmac sha256 -bytes 4096 -seconds 2 2>/dev/null | grep '^hmac(sha256)')
echo "  $speed"
echo "$speed" | awk '{v=$2; sub(/k$/, "", v); printf "  = %.0f ns per 4096-byte message\n", 4096 / (v * 1000) * 1e9}'
echo
# columns of results: size ext plpgsql immutable loop bytes floor_reinit floor_dup floor_oneshot
awk -v rounds="$ROUNDS" '
function min(a, b) { return (a == "" || b < a) ? b : a }
{
    s = $1; n[s]++
    ext[s] = min(ext[s], $2); pl[s] = min(pl[s], $3); im[s] = min(im[s], $4); lp[s] = min(lp[s], $5)
    fl[s] = min(fl[s], $7); dup[s] = min(dup[s], $8); one[s] = min(one[s], $9)
    e[s, n[s]] = $2; p[s, n[s]] = $3; f[s, n[s]] = $7
    if (!(s in seen)) { seen[s] = 1; order[++k] = s }
}
function median(arr, s, cnt,    i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[s, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
END {
    printf "Per-call CPU time in ns, best of %d rounds (median in brackets)\n\n", rounds
    printf "%-8s %16s %18s %10s %6s %16s %10s %8s\n", "payload", "extension", "plpgsql+pgcrypto", "immutable", "loop", "floor (keyed)", "floor dup", "HMAC()"
    for (i = 1; i <= k; i++) {
        s = order[i]
        printf "%-8s %7d [%6d] %9d [%6d] %10d %6d %7d [%6d] %10d %8d\n", s, ext[s], median(e, s, n[s]), pl[s], median(p, s, n[s]), im[s], lp[s], fl[s], median(f, s, n[s]), dup[s], one[s]
    }
    printf "\n%-8s %20s %22s %18s %20s %20s\n", "payload", "plpgsql / extension", "immutable / extension", "extension / floor", "(ext - loop) / floor", "plpgsql / floor"
    for (i = 1; i <= k; i++) {
        s = order[i]
        printf "%-8s %19.1fx %21.1fx %17.2fx %19.2fx %19.1fx\n", s, pl[s] / ext[s], im[s] / ext[s], ext[s] / fl[s], (ext[s] - lp[s]) / fl[s], pl[s] / fl[s]
    }
    printf "\nTargets: plpgsql / extension >= 5x at 1 KB and >= 4x at 4 KB; extension / floor <= 1.3x at 4 KB.\n"
    printf "plpgsql / floor bounds plpgsql / extension: no implementation can beat hashing the bytes.\n"
}' "$WORK/results"
