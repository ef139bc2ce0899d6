#!/usr/bin/env bash
# test/e2e/52_relay_body_flood.t: 200 concurrent 1 MiB bodies against
# stripe-webhook-relay, over real HTTP on 127.0.0.1.
#
# Each client sends its headers (Content-Length: 1 MiB), half its body, waits
# while the relay's RSS is sampled, then the rest.  The bytes of bodies held
# at once are bounded by --max-body-total (default 16 MiB, of which bodies
# over 64 KiB may use 12): the relay takes 11 of them and answers every
# other one 503 with Retry-After before reading it.  Its peak RSS is printed
# as a TAP comment and must stay far below what 200 MiB of bodies would
# take.  In the middle of the flood a valid signed delivery (a few kB) gets
# 200 and makes its order; afterwards the shop shows that delivery and the
# flood's rejected signatures counted, nothing else.  About 10 s.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

WORK=$(mktemp -d /tmp/sw-relay-flood.XXXXXX)
DB=sw_relay_flood_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"
. "$SW_ROOT/test/lib/relay.sh"

trap relay_cleanup EXIT

relay_setup || { echo "1..0 # Skip cannot set up the database"; exit 1; }
relay_start flood.log
ok $? "relay starts with the default limits (max body 1 MiB, bodies in flight 16 MiB)"
S0=$(sw_shop_state "$DB")

"$PY" "$RELAY_CLIENT" flood "$PORT" "$RELAY_PID" 200 1048576 3 >"$WORK/flood.out" &
FLOOD=$!
sleep 2.5
relay_valid_delivery "200 concurrent 1 MiB bodies"
wait "$FLOOD"
STATUSES=$(sed -n 's/^statuses=//p' "$WORK/flood.out")
RETRY=$(sed -n 's/^retry_after_503=//p' "$WORK/flood.out")
read -r BASE PEAK < <(sed -n 's/^rss_before_kb=\([0-9]*\) rss_peak_kb=\([0-9]*\)$/\1 \2/p' "$WORK/flood.out")
echo "# flood answers: $STATUSES"
echo "# relay RSS: $((BASE / 1024)) MB before the flood, at most $((PEAK / 1024)) MB during it (200 x 1 MiB bodies)"

N400=$(printf '%s' "$STATUSES" | tr ',' '\n' | sed -n 's/^400://p')
N503=$(printf '%s' "$STATUSES" | tr ',' '\n' | sed -n 's/^503://p')
is "$STATUSES" "400:${N400:-0},503:${N503:-0}" "every flood request answered: 400 (taken, then a bad signature) or 503"
like "${N400:-0}" '^([1-9]|1[0-2])$' "1 to 12 bodies of 1 MiB taken at once (the 12 MiB share of --max-body-total)"
is "$RETRY" "${N503:-x}" "every 503 carries Retry-After"
[ "${PEAK:-999999}" -gt 0 ] && [ "$PEAK" -lt $((64 * 1024)) ]
ok $? "relay RSS stays under 64 MB during the flood ($((PEAK / 1024)) MB)"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1 "${N400:-0}")" \
    "one delivery written; the bodies taken were rejected by the handler and counted; nothing else"
log_has "$WORK/flood.log" 'POST /api/payments/stripe_webhook/ 503 - [0-9.]+ms \(too many request bodies in flight\) from 127\.0\.0\.1' \
    "log: the refusal, with its reason"
L503=$(grep -c '(too many request bodies in flight)' "$WORK/flood.log")
[ "$L503" -lt "${N503:-0}" ]
ok $? "log: the $N503 refusals give $L503 lines (at most one a second, the rest counted)"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

echo "1..$N"
[ "$FAILED" -eq 0 ]
