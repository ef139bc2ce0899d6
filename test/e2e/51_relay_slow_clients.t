#!/usr/bin/env bash
# test/e2e/51_relay_slow_clients.t: slow and crowding clients against
# stripe-webhook-relay, over real HTTP on 127.0.0.1 (the clients bind to
# other loopback addresses, 127.0.0.10 and up, to stand for other hosts).
#
#   - request line and headers trickled one byte a second: every connection
#     is cut off at --header-timeout, counted from accept, though it never
#     falls silent (--timeout counts only silence);
#   - a body trickled one byte a second: cut off at --request-timeout;
#   - 320 such clients from 5 addresses against the default limits (256
#     connections, 64 per address): the oldest slow connections are evicted
#     to make room, so a delivery arriving meanwhile is served;
#   - a 65th connection from one address is refused (--max-connections-per-ip);
#   - silent connections closed by --timeout are logged too;
#   - --allow-from: a client outside the list is refused, one inside served.
#
# In the middle of each attack a valid signed delivery gets 200 and makes its
# order; afterwards the shop shows exactly those deliveries and nothing else.
# Each cut-off or refusal leaves a log line, rate-limited per reason.
# On the runner's cluster (a fresh database, dropped afterwards); about 45 s.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

WORK=$(mktemp -d /tmp/sw-relay-slow.XXXXXX)
DB=sw_relay_slow_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"
. "$SW_ROOT/test/lib/relay.sh"

trap relay_cleanup EXIT

# stat KEY STATS: the value of KEY in a "k=v k=v" line.
stat() {
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# within X LO HI: LO <= X <= HI (decimals).
within() {
    awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

relay_setup || { echo "1..0 # Skip cannot set up the database"; exit 1; }

# --- deadlines counted from accept -----------------------------------------------

relay_start slow.log --header-timeout 3 --request-timeout 5 --timeout 10
ok $? "relay starts with --header-timeout 3 --request-timeout 5 --timeout 10"
S0=$(sw_shop_state "$DB")

"$PY" "$RELAY_CLIENT" slow "$PORT" 6 127.0.0.10 8 headers >"$WORK/headers.out" &
ATTACK=$!
sleep 1.5
relay_valid_delivery "8 clients trickling their headers"
wait "$ATTACK"
R=$(cat "$WORK/headers.out")
echo "# header trickle: $R"
is "$(stat cut "$R") $(stat still_open "$R") $(stat answered "$R")" "8 0 0" \
    "header trickle: all 8 connections cut off, none answered"
within "$(stat min_life "$R")" 2.9 4.3 && within "$(stat max_life "$R")" 2.9 4.3
ok $? "header trickle: cut off 3 s after accept (+ at most one watchdog round), though never silent ($(stat min_life "$R")-$(stat max_life "$R") s)"

"$PY" "$RELAY_CLIENT" slow "$PORT" 7.5 127.0.0.11 8 body >"$WORK/body.out" &
ATTACK=$!
sleep 2
relay_valid_delivery "8 clients trickling their bodies"
wait "$ATTACK"
R=$(cat "$WORK/body.out")
echo "# body trickle: $R"
is "$(stat cut "$R") $(stat still_open "$R") $(stat answered "$R")" "8 0 0" \
    "body trickle: all 8 connections cut off, none answered"
within "$(stat min_life "$R")" 4.9 6.3 && within "$(stat max_life "$R")" 4.9 6.3
ok $? "body trickle: cut off 5 s after accept (--request-timeout), not at --timeout ($(stat min_life "$R")-$(stat max_life "$R") s)"

is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 2)" \
    "trickles: the two deliveries were written, nothing else"
log_has "$WORK/slow.log" 'connection from 127\.0\.0\.10 cut off after 3\.[0-9]s: request line and headers not received within 3s \(--header-timeout\)' \
    "log: a header trickle cut off, with the client's address and the deadline"
log_has "$WORK/slow.log" 'connection from 127\.0\.0\.11 cut off after 5\.[0-9]s: request not received within 5s \(--request-timeout\)' \
    "log: a body trickle cut off"
HDR_LINES=$(grep -c 'request line and headers not received' "$WORK/slow.log")
HDR_SUPP=$(grep -o '[0-9]* similar lines suppressed: header timeout' "$WORK/slow.log" | awk '{s += $1} END {print s + 0}')
HDR_SUPP2=$(grep 'request line and headers not received' "$WORK/slow.log" | grep -o '\[[0-9]* similar' | tr -d '[' | awk '{s += $1} END {print s + 0}')
[ "$HDR_LINES" -lt 8 ] && [ $((HDR_LINES + HDR_SUPP + HDR_SUPP2)) -eq 8 ]
ok $? "log: 8 cut-offs in the same second give $HDR_LINES line(s) plus a count of the $((HDR_SUPP + HDR_SUPP2)) suppressed"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

# --- a crowd of slow clients against the default limits ---------------------------------

relay_start crowd.log
ok $? "relay starts with the default limits (256 connections, 64 per address, header timeout 10 s)"
S0=$(sw_shop_state "$DB")
"$PY" "$RELAY_CLIENT" slow "$PORT" 7 127.0.0.20,127.0.0.21,127.0.0.22,127.0.0.23,127.0.0.24 64 headers --reconnect \
    >"$WORK/crowd.out" &
ATTACK=$!
sleep 2
for i in 1 2 3; do
    relay_valid_delivery "320 slow clients from 5 addresses, delivery $i"
    sleep 1
done
wait "$ATTACK"
R=$(cat "$WORK/crowd.out")
echo "# crowd: $R"
[ "$(stat still_open "$R")" -le 256 ] && [ "$(stat answered "$R")" -eq 0 ]
ok $? "crowd: never more than --max-connections held by the slow clients, none answered"
log_has "$WORK/crowd.log" 'connection from 127\.0\.0\.2[0-4] cut off after [0-9.]+s: evicted to make room \(--max-connections reached; it had sent no complete request\)' \
    "crowd: the oldest slow connections were evicted to make room (logged)"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 3)" "crowd: the three deliveries were written, nothing else"
CUT=$(stat cut "$R")
LINES=$(wc -l <"$WORK/crowd.log")
[ "$LINES" -lt 100 ]
ok $? "crowd: $CUT connections cut off, $LINES log lines in all (rate-limited, libmicrohttpd's own messages too)"

# --- per-address cap ----------------------------------------------------------------

S0=$(sw_shop_state "$DB")
"$PY" "$RELAY_CLIENT" hold "$PORT" 127.0.0.30 70 4 >"$WORK/hold.out" &
ATTACK=$!
sleep 2
is "$(head -1 "$WORK/hold.out")" "accepted=64 refused=6" \
    "70 silent connections from one address: 64 accepted, 6 refused (--max-connections-per-ip 64)"
relay_event capped
like "$(relay_deliver capped 127.0.0.30)" '^closed' "a delivery from that address meanwhile: refused"
relay_valid_delivery "64 silent connections from 127.0.0.30, delivery from 127.0.0.1"
wait "$ATTACK"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1 0 1)" "per-address cap: one delivery written, nothing else"
log_has "$WORK/crowd.log" 'connection from 127\.0\.0\.30 refused: it has 64 connections open \(--max-connections-per-ip\)' \
    "log: the refusal, with the address"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

# --- silent connections: libmicrohttpd's --timeout, logged too ------------------------------

relay_start idle.log --timeout 2 --header-timeout 10
ok $? "relay starts with --timeout 2 --header-timeout 10"
S0=$(sw_shop_state "$DB")
"$PY" "$RELAY_CLIENT" hold "$PORT" 127.0.0.12 4 4 >"$WORK/idle.out" &
ATTACK=$!
sleep 1
relay_valid_delivery "4 silent connections"
wait "$ATTACK"
is "$(head -1 "$WORK/idle.out")" "accepted=4 refused=0" "4 silent connections accepted"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1)" "silent connections: one delivery written, nothing else"
log_has "$WORK/idle.log" 'connection from 127\.0\.0\.12 closed: silent for 2s \(--timeout\)' \
    "log: a silent connection closed by --timeout, with the address"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

# --- allow list --------------------------------------------------------------------

"$SW_BINDIR/stripe-webhook-relay" --allow-from "127.0.0.2/33" >/dev/null 2>"$WORK/bad.err"
is "$?" 2 "--allow-from with a /33 prefix: exit status 2"
like "$(cat "$WORK/bad.err")" 'invalid --allow-from prefix length "33"' "... naming the setting"
RELAY_PROBE_FROM=127.0.0.2 relay_start allow.log --allow-from "10.0.0.0/8, 127.0.0.2/32 2001:db8::/32"
ok $? "relay starts with --allow-from \"10.0.0.0/8, 127.0.0.2/32 2001:db8::/32\""
S0=$(sw_shop_state "$DB")
relay_event outside
like "$(relay_deliver outside 127.0.0.1)" '^closed' "a delivery from 127.0.0.1 (not in the list): refused"
like "$(relay_deliver outside 127.0.0.3)" '^closed' "a delivery from 127.0.0.3: refused"
is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 0 0 1)" "refused deliveries wrote nothing"
relay_valid_delivery "--allow-from, client 127.0.0.2" 127.0.0.2
like "$(relay_deliver outside 127.0.0.2)" '^200 ' "the refused delivery, sent again from inside the list: 200"
log_has "$WORK/allow.log" 'connection from 127\.0\.0\.1 refused: not in --allow-from' "log: the refusal, with the address"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

echo "1..$N"
[ "$FAILED" -eq 0 ]
