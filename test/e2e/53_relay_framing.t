#!/usr/bin/env bash
# test/e2e/53_relay_framing.t: ambiguous framing and parsing tricks against
# stripe-webhook-relay, as raw bytes over a socket on 127.0.0.1.
#
# Each request carries a correctly signed delivery, so that a relay fooled by
# the trick would create an order; most also carry a second signed delivery
# in the bytes after the headers, which a relay that framed the body
# differently would run as another request.  Each must be answered 400 (404
# for the encoded paths) with the connection closed after one answer, and
# neither delivery may be processed:
#   Content-Length with Transfer-Encoding (both orders); two Content-Length,
#   differing or identical; a Transfer-Encoding other than chunked;
#   Stripe-Signature with a NUL byte (libmicrohttpd would cut the value
#   there, leaving a valid signature) or a bare CR; two Stripe-Signature
#   headers; a folded Stripe-Signature; bare LF line ends; HTTP/1.1 without
#   Host; the webhook path with %2F, %00 or any percent-encoding.
# With libmicrohttpd 1.0 (Debian trixie and later) the library itself
# refuses some of these before the relay sees them, with the connection
# closed too: its log line then says so, in libmicrohttpd's words, and 1.0.x
# newer than trixie's answers a transfer coding it does not implement with
# 501 and a %00 in the path with 400.
# Two pipelined /healthz requests still get two answers on one connection,
# and in the middle a valid delivery gets 200 and makes its order; at the
# end the shop shows that delivery and nothing else.
# On the runner's cluster (a fresh database, dropped afterwards); about 5 s.
set -uo pipefail
SW_ROOT=${SW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${SW_BINDIR:?run me from test/run.sh}"
. "$SW_ROOT/test/lib/common.sh"

WORK=$(mktemp -d /tmp/sw-relay-framing.XXXXXX)
DB=sw_relay_framing_$$
N=0
FAILED=0
. "$SW_ROOT/test/lib/tap.sh"
. "$SW_ROOT/test/lib/relay.sh"

trap relay_cleanup EXIT

relay_setup || { echo "1..0 # Skip cannot set up the database"; exit 1; }
relay_start framing.log
ok $? "relay starts"

# Two signed deliveries: "front" is the request's own, "smuggled" rides in
# the bytes after the headers.
relay_event front
relay_event smuggled
"$PY" - "$WORK" <<'PY'
import os, sys
work = sys.argv[1]
def rd(n, ext, mode="rb"):
    return open(os.path.join(work, n + "." + ext), mode).read()
body, sig = rd("front", "body"), rd("front", "sig").strip()
sbody, ssig = rd("smuggled", "body"), rd("smuggled", "sig").strip()
P = b"/api/payments/stripe_webhook/"
smuggled = (b"POST " + P + b" HTTP/1.1\r\nHost: relay\r\nStripe-Signature: " + ssig +
            b"\r\nContent-Length: %d\r\n\r\n" % len(sbody) + sbody)
def req(headers, payload=body, path=P, version=b"HTTP/1.1", eol=b"\r\n", host=True):
    head = b"POST " + path + b" " + version + eol
    if host:
        head += b"Host: relay" + eol
    for h in headers:
        head += h + eol
    return head + eol + payload
def chunked(b):
    return b"%x\r\n" % len(b) + b + b"\r\n0\r\n\r\n"
CL = b"Content-Length: %d" % len(body)
SIG = b"Stripe-Signature: " + sig
cases = {
    "cl_te":      req([SIG, CL, b"Transfer-Encoding: chunked"], chunked(body) + smuggled),
    "te_cl":      req([SIG, b"Transfer-Encoding: chunked", CL], chunked(body) + smuggled),
    "te_cl0":     req([SIG, b"Content-Length: 0", b"Transfer-Encoding: chunked"], chunked(body)),
    "cl_differ":  req([SIG, b"Content-Length: 2", CL], body + smuggled),
    "cl_same":    req([SIG, CL, CL], body + smuggled),
    "te_gzip":    req([SIG, b"Transfer-Encoding: gzip, chunked"], chunked(body) + smuggled),
    "te_twice":   req([SIG, b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], chunked(body) + smuggled),
    "sig_nul":    req([SIG + b"\x00,v1=" + b"0" * 64, CL], body + smuggled),
    "sig_nul_last": req([CL, SIG + b"\x00\x00"], body + smuggled),
    "sig_cr":     req([SIG + b"\rX-Injected: 1", CL], body + smuggled),
    "sig_twice":  req([SIG, SIG, CL], body + smuggled),
    "sig_folded": req([b"Stripe-Signature: " + sig[:20], b" " + sig[20:], CL], body + smuggled),
    "bare_lf":    req([SIG, CL], body + smuggled, eol=b"\n"),
    "no_host":    req([SIG, CL], body + smuggled, host=False),
    "path_2f":    req([SIG, CL], body + smuggled, path=b"/api/payments/stripe_webhook%2F"),
    "path_00":    req([SIG, CL], body + smuggled, path=b"/api/payments/stripe_webhook/%00"),
    "path_5f":    req([SIG, CL], body + smuggled, path=b"/api/payments/stripe%5Fwebhook/"),
    "path_2f_mid": req([SIG, CL], body + smuggled, path=b"/api%2Fpayments/stripe_webhook/"),
    "healthz_x2": b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\nGET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
}
for name, data in cases.items():
    open(os.path.join(work, name + ".hex"), "w").write(data.hex())
PY

S0=$(sw_shop_state "$DB")

# refused CASE STATUSES WHAT: the raw request gets exactly one answer, one
# of STATUSES (the relay's first; a second is what newer libmicrohttpd 1.0
# answers itself), and the connection is closed.
refused() {
    local r want="HTTP/1.1 ${2%% *}|closed|" s
    r=$("$PY" "$RELAY_CLIENT" raw "$PORT" "$WORK/$1.hex" | sed 's/^\(HTTP\/1\.1 [0-9]*\).*/\1/' | tr '\n' '|')
    for s in $2; do
        [ "$r" = "HTTP/1.1 $s|closed|" ] && want=$r
    done
    is "$r" "$want" "$3: ${2// / or }, one answer, connection closed"
}

refused cl_te 400 "Content-Length then Transfer-Encoding: chunked, a signed delivery after the chunked body"
refused te_cl 400 "Transfer-Encoding: chunked then Content-Length"
refused te_cl0 400 "Content-Length: 0 with Transfer-Encoding: chunked"
refused cl_differ 400 "two differing Content-Length headers, a signed delivery after the shorter body"
refused cl_same 400 "two identical Content-Length headers"
refused te_gzip "400 501" "Transfer-Encoding: gzip, chunked"
refused te_twice 400 "Transfer-Encoding twice"
relay_valid_delivery "between framing attacks"
refused sig_nul 400 "Stripe-Signature: a valid signature, then a NUL byte and garbage"
refused sig_nul_last 400 "Stripe-Signature (the last header): a valid signature, then two NUL bytes"
refused sig_cr 400 "Stripe-Signature with a bare CR and an injected header after it"
refused sig_twice 400 "two Stripe-Signature headers (both valid)"
refused sig_folded 400 "Stripe-Signature folded over two lines"
refused bare_lf 400 "bare LF line ends"
refused no_host 400 "HTTP/1.1 without Host"
refused path_2f 404 "webhook path with %2F instead of the final slash"
refused path_00 "404 400" "webhook path followed by %00"
refused path_5f 404 "webhook path with an encoded underscore (%5F)"
refused path_2f_mid 404 "webhook path with %2F in the middle"
is "$("$PY" "$RELAY_CLIENT" raw "$PORT" "$WORK/healthz_x2.hex" | sed 's/^\(HTTP\/1\.1 [0-9]*\).*/\1/' | tr '\n' '|')" \
    "HTTP/1.1 200|HTTP/1.1 200|closed|" "two pipelined GET /healthz: two answers (ordinary keep-alive still works)"

is "$(shop_delta "$S0" "$(sw_shop_state "$DB")")" "$(one_delivery 1)" \
    "after every trick: only the valid delivery written, no rejection reached the handler"
is "$(q "SELECT (SELECT count(*) FROM stripe_webhook.events WHERE session_id IN ('$(cat "$WORK/front.cs")', '$(cat "$WORK/smuggled.cs")'))
            + (SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id IN ('$(cat "$WORK/front.cs")', '$(cat "$WORK/smuggled.cs")'))")" 0 \
    "neither the front nor the smuggled delivery was processed"
like "$(relay_deliver front)" '^200 .*order created' "the front delivery, sent plainly: 200"

log_has "$WORK/framing.log" '400 - [0-9.]+ms \(both Content-Length and Transfer-Encoding\) from 127\.0\.0\.1|libmicrohttpd: .*400.*both Transfer-Encoding and Content-Length' "log: CL + TE, with the reason"
log_has "$WORK/framing.log" '\(malformed request head \(NUL byte, bare LF or folded line\)\)|similar lines suppressed: 400 malformed|libmicrohttpd: .*400.*invalid character in header' "log: the NUL byte"
log_has "$WORK/framing.log" '\(more than one Stripe-Signature header\)' "log: two signatures"
log_has "$WORK/framing.log" '\(HTTP/1\.1 request without Host\)|libmicrohttpd: Received HTTP/1\.1 request without .Host. header' "log: no Host"
relay_stop
is "$STOP_RC" 0 "relay exits 0"

echo "1..$N"
[ "$FAILED" -eq 0 ]
