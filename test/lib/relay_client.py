#!/usr/bin/python3
"""test/lib/relay_client.py: HTTP clients, honest and hostile, for the relay
e2e tests (test/e2e/5*_relay_*.t), over raw sockets on 127.0.0.1.

    event WORK NAME EVT CART USER SECRET TEMPLATE
        write WORK/NAME.body (a checkout.session.completed for CART) and
        WORK/NAME.sig (its Stripe-Signature, signed now with SECRET)
    deliver PORT WORK NAME [SOURCE]
        POST NAME.body with NAME.sig (from source address SOURCE, default
        127.0.0.1); prints "STATUS BODY" or "closed ERROR"
    raw PORT HEXFILE
        send the bytes of HEXFILE (hex), half-close, read until the server
        closes (5 s at most); prints one line per HTTP status line seen,
        then "closed" or "open"
    slow PORT SECONDS SOURCES PER_SOURCE MODE [--reconnect]
        slow clients: PER_SOURCE connections from each of the comma-separated
        SOURCES, each sending one byte a second of a request (MODE headers:
        of its request line and headers; MODE body: headers at once, then the
        body); with --reconnect a connection cut off is opened again (at the
        next one-second tick), until SECONDS pass.  Prints key=value statistics (see the end).
    hold PORT SOURCE COUNT SECONDS
        open COUNT connections from SOURCE and keep them silent for SECONDS;
        prints "accepted=N refused=M" (refused: closed or reset by the relay
        within the first second)
    flood PORT PID COUNT SIZE HOLD
        COUNT concurrent POSTs with a Content-Length of SIZE bytes: headers,
        then half the body, then HOLD seconds of waiting while the relay's
        RSS (/proc/PID/status) is sampled, then the rest.  Prints statuses
        and the largest RSS seen.
"""
import hashlib
import hmac
import json
import os
import re
import select
import socket
import sys
import threading
import time

WEBHOOK = "/api/payments/stripe_webhook/"


def connect(port, source="127.0.0.1", timeout=10):
    """A TCP connection to the relay from the given local address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_reply(s, limit=30):
    """Read until the server closes or one whole response is in; return it."""
    data = b""
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = None
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if length is not None and len(body) >= length:
                break
    return data


def cmd_event(work, name, evt, cart, user, secret, template):
    ev = json.load(open(template))
    ev["id"] = evt
    ev["data"]["object"]["id"] = "cs_test_" + evt[4:]
    ev["data"]["object"]["client_reference_id"] = cart
    ev["data"]["object"]["metadata"] = {"user_id": user, "cart_id": cart}
    body = json.dumps(ev, indent=2).encode()
    t = str(int(time.time()))
    v1 = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    open(os.path.join(work, name + ".body"), "wb").write(body)
    open(os.path.join(work, name + ".sig"), "w").write("t=%s,v1=%s" % (t, v1))


def cmd_deliver(port, work, name, source="127.0.0.1"):
    body = open(os.path.join(work, name + ".body"), "rb").read()
    sig = open(os.path.join(work, name + ".sig")).read().strip()
    req = ("POST %s HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json; charset=utf-8\r\n"
           "Stripe-Signature: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % (WEBHOOK, sig, len(body))).encode() + body
    try:
        s = connect(int(port), source, timeout=30)
        s.sendall(req)
        reply = read_reply(s)
        s.close()
    except OSError as e:
        print("closed", type(e).__name__)
        return
    if not reply:
        print("closed empty")
        return
    status = reply.split(b" ", 2)[1].decode()
    print(status, reply.partition(b"\r\n\r\n")[2].decode("utf-8", "replace"))


def cmd_raw(port, hexfile):
    data = bytes.fromhex(open(hexfile).read().strip())
    s = connect(int(port), timeout=5)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    got = b""
    state = "open"
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            state = "closed"
            break
        if not chunk:
            state = "closed"
            break
        got += chunk
    s.close()
    # a status line follows the previous answer's body directly
    for m in re.finditer(rb"HTTP/1\.[01] [0-9]{3}[^\r\n]*", got):
        print(m.group(0).decode("latin-1"))
    print(state)


def cmd_slow(port, seconds, sources, per_source, mode, reconnect):
    """Slow clients over one select loop; statistics on stdout."""
    port, seconds, per_source = int(port), float(seconds), int(per_source)
    sources = sources.split(",")
    body = b"x" * 1000
    if mode == "headers":
        payload = (b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: relay\r\nStripe-Signature: t=1,v1=00\r\n"
                   b"X-Padding: " + b"a" * 200 + b"\r\n\r\n")
        first = b""
    else:
        first = (b"POST " + WEBHOOK.encode() + b" HTTP/1.1\r\nHost: relay\r\nStripe-Signature: t=1,v1=00\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body))
        payload = body
    conns = {}              # socket -> [opened, bytes sent, source]
    again = []              # sources of connections to open again
    stats = dict(opened=0, refused=0, cut=0, answered=0, max_life=0.0, min_life=1e9)
    start = time.time()

    def open_one(source):
        try:
            s = connect(port, source, timeout=2)
            if first:
                s.sendall(first)
            s.setblocking(False)
        except OSError:
            stats["refused"] += 1
            return
        conns[s] = [time.time(), 0, source]
        stats["opened"] += 1

    for src in sources:
        for _ in range(per_source):
            open_one(src)
    next_tick = time.time()
    while time.time() - start < seconds:
        timeout = max(0.0, next_tick - time.time())
        readable, _, _ = select.select(list(conns), [], [], min(timeout, 0.05))
        for s in readable:
            opened, _, src = conns[s]
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            life = time.time() - opened
            if data.startswith(b"HTTP/"):
                stats["answered"] += 1
            stats["cut"] += 1
            stats["max_life"] = max(stats["max_life"], life)
            stats["min_life"] = min(stats["min_life"], life)
            del conns[s]
            s.close()
            if reconnect:
                again.append(src)
        if time.time() >= next_tick:
            next_tick += 1.0
            # reopen what was cut off, once a second (like a patient attacker)
            while again and time.time() - start < seconds - 0.5:
                open_one(again.pop())
            for s, c in list(conns.items()):
                if c[1] < len(payload):
                    try:
                        s.send(payload[c[1]:c[1] + 1])
                        c[1] += 1
                    except OSError:
                        pass
    oldest = max([time.time() - c[0] for c in conns.values()] or [0.0])
    stats["still_open"] = len(conns)
    stats["oldest_open"] = oldest
    for s in conns:
        s.close()
    if stats["min_life"] > 1e8:
        stats["min_life"] = 0.0
    print(" ".join("%s=%s" % (k, ("%.2f" % v) if isinstance(v, float) else v) for k, v in stats.items()))


def cmd_hold(port, source, count, seconds):
    socks = []
    refused = 0
    for _ in range(int(count)):
        try:
            socks.append(connect(int(port), source, timeout=2))
        except OSError:
            refused += 1
        time.sleep(0.01)
    time.sleep(1.0)
    alive = []
    for s in socks:
        r, _, _ = select.select([s], [], [], 0)
        if r:
            try:
                closed = s.recv(1) == b""
            except OSError:
                closed = True
            if closed:
                refused += 1
                s.close()
                continue
        alive.append(s)
    print("accepted=%d refused=%d" % (len(alive), refused))
    sys.stdout.flush()
    time.sleep(max(0.0, float(seconds) - 1.0))
    for s in alive:
        s.close()


def rss_kb(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cmd_flood(port, pid, count, size, hold):
    count, size, hold = int(count), int(size), float(hold)
    half = size // 2
    body = b" " * size
    head = ("POST %s HTTP/1.1\r\nHost: relay\r\nStripe-Signature: t=1,v1=%s\r\nContent-Length: %d\r\n\r\n"
            % (WEBHOOK, "0" * 64, size)).encode()
    statuses = []
    retry_after = []
    lock = threading.Lock()
    sent_half = threading.Barrier(count + 1)
    go_on = threading.Event()

    def one():
        status = "none"
        try:
            s = connect(int(port), timeout=30)
            s.sendall(head)
            time.sleep(0.3)
            r, _, _ = select.select([s], [], [], 0)
            early = read_reply(s, 5) if r else b""
            if not early:
                s.sendall(body[:half])
        except OSError as e:
            early, status = b"", type(e).__name__
        try:
            sent_half.wait(60)
        except threading.BrokenBarrierError:
            pass
        go_on.wait(60)
        try:
            if not early and status == "none":
                s.sendall(body[half:])
                early = read_reply(s, 30)
            s.close()
        except OSError as e:
            status = type(e).__name__
        if early.startswith(b"HTTP/"):
            status = early.split(b" ", 2)[1].decode()
            if b"\r\nRetry-After: " in early:
                with lock:
                    retry_after.append(status)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(count)]
    base = rss_kb(pid)
    for t in threads:
        t.start()
    try:
        sent_half.wait(60)
    except threading.BrokenBarrierError:
        pass
    peak = 0
    end = time.time() + hold
    while time.time() < end:
        peak = max(peak, rss_kb(pid))
        time.sleep(0.05)
    go_on.set()
    for t in threads:
        t.join()
    counts = {}
    for st in statuses:
        counts[st] = counts.get(st, 0) + 1
    print("statuses=" + ",".join("%s:%d" % kv for kv in sorted(counts.items())))
    print("retry_after_503=%d" % retry_after.count("503"))
    print("rss_before_kb=%d rss_peak_kb=%d" % (base, peak))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "event":
        cmd_event(*args)
    elif cmd == "deliver":
        cmd_deliver(*args)
    elif cmd == "raw":
        cmd_raw(*args)
    elif cmd == "slow":
        cmd_slow(*args[:5], reconnect="--reconnect" in args[5:])
    elif cmd == "hold":
        cmd_hold(*args)
    elif cmd == "flood":
        cmd_flood(*args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
