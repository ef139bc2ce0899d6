#!/usr/bin/env bash
# test/e2e/54_relay_log_noise.t: a flood of forged deliveries must not flood
# the logs, and must still be counted.
#
# 300 deliveries signed with a wrong secret, from 16 concurrent clients, over
# real HTTP to stripe-webhook-relay on 127.0.0.1.  Each is answered 400 and
# counted once in stripe_webhook.rejected_deliveries; but the relay logs at
# most one line a second for that reason (the others are counted, and the
# counts logged: lines + counts = 300), and the handler at most one server
# LOG line per reason per second in each database session.  In the middle a
# valid signed delivery gets 200 and makes its order; afterwards the shop
# shows that delivery and the 300 counted rejections, nothing else.
# On the runner's cluster (a fresh database, dropped afterwards); about 5 s.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

WORK=$(mktemp -d /tmp/sw-relay-noise.XXXXXX)
DB=sw_relay_noise_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"
. "$SW_ROOT/test/lib/relay.sh"

trap relay_cleanup EXIT

relay_setup || { echo "1..0 # Skip cannot set up the database"; exit 1; }
relay_start noise.log --pool-size 4
ok $? "relay starts (pool of 4 database sessions)"

# the forgery: a real event body, signed with another secret
relay_event forged
"$PY" "$RELAY_CLIENT" event "$WORK" forged "evt_RelayForged$$" 1 mallory \
    whsec_not_the_endpoints_secret "$RELAY_TEMPLATE"
S0=$(sw_shop_state "$DB")
PGLOG=${SW_PGLOG:-/dev/null}
LOG0=$(wc -c <"$PGLOG")
T0=$(date +%s.%N)

"$PY" - "$PORT" "$WORK" <<'PY' >"$WORK/forged.out" &
import socket, sys, threading
port, work = int(sys.argv[1]), sys.argv[2]
body = open(work + "/forged.body", "rb").read()
sig = open(work + "/forged.sig").read().strip().encode()
req = (b"POST /api/payments/stripe_webhook/ HTTP/1.1\r\nHost: relay\r\nStripe-Signature: " + sig +
       b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
statuses = {}
lock = threading.Lock()
def worker(n):
    for _ in range(n):
        st = "error"
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(req)
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            st = data.split(b" ", 2)[1].decode()
        except Exception as e:
            st = type(e).__name__
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
threads = [threading.Thread(target=worker, args=(300 // 16 + (1 if i < 300 % 16 else 0),)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(",".join("%s:%d" % kv for kv in sorted(statuses.items())))
PY
FLOOD=$!
sleep 0.5
relay_valid_delivery "300 forged deliveries"
wait "$FLOOD"
ELAPSED=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a + 0.999 }')
echo "# forged deliveries answered: $(cat "$WORK/forged.out") in about ${ELAPSED} s"
# a second later, one more: its session (the pool's first, used by every
# request when the relay is idle) reports what it suppressed
sleep 1.2
like "$(relay_deliver forged)" '^400 ' "one more forged delivery a second later: 400"
sleep 1.2        # the relay reports what it suppressed in the last second

is "$(cat "$WORK/forged.out")" "400:300" "300 forged deliveries: every one answered 400"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1 301)" \
    "the valid delivery written, the 301 forgeries counted in rejected_deliveries, nothing else"
is "$(q "SELECT count FROM stripe_webhook.rejected_deliveries WHERE reason = 'no_match'")" 301 \
    "... all under the reason no_match"

LINES=$(grep -c 'POST /api/payments/stripe_webhook/ 400 - ' "$WORK/noise.log")
SUPP=$( { grep 'POST /api/payments/stripe_webhook/ 400 - ' "$WORK/noise.log" | grep -o '\[[0-9]* similar' | tr -d '[';
          grep -o '[0-9]* similar lines suppressed: 400 from the handler' "$WORK/noise.log"; } |
        awk '{s += $1} END {print s + 0}')
echo "# relay log: $LINES line(s) for the forgeries, $SUPP more counted"
[ "$LINES" -ge 1 ] && [ "$LINES" -le $((ELAPSED + 3)) ]
ok $? "relay log: at most one line a second for the forgeries ($LINES lines in about $((ELAPSED + 1)) s)"
is "$((LINES + SUPP))" 301 "relay log: lines + suppressed counts = 301"
log_has "$WORK/noise.log" 'similar lines suppressed' "relay log: the suppressed lines are counted in the log"

SERVER=$(tail -c +$((LOG0 + 1)) "$PGLOG" | grep -c 'stripe webhook delivery rejected: no_match')
echo "# server log: $SERVER line(s) for the 301 rejections"
[ "$SERVER" -ge 1 ] && [ "$SERVER" -le $((4 * (ELAPSED + 3))) ]
ok $? "server log: at most one line per second per database session ($SERVER lines, 4 sessions, about ${ELAPSED} s)"
tail -c +$((LOG0 + 1)) "$PGLOG" >"$WORK/server.log"
log_has "$WORK/server.log" 'stripe webhook delivery rejected: no_match \(and [0-9]+ more in this session since the last line\)' \
    "server log: a line after suppressed ones says how many"

relay_stop
is "$STOP_RC" 0 "relay exits 0"

echo "1..$N"
[ "$FAILED" -eq 0 ]
