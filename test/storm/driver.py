#!/usr/bin/python3
"""test/storm/driver.py: play Stripe against a running stripe-webhook-relay.

Reads the paid Checkout Sessions a storm set up (CSV from
sw_proof.paid_sessions: session_id, event_id, cart_id, user_id,
amount_subtotal, currency), builds one checkout.session.completed event per
session from a fixture, takes with --payments the refund and dispute
events a storm set up (CSV from sw_proof.payment_events: event_id, type,
data.object as JSON), and delivers every event COPIES times over HTTP from
CONNECTIONS concurrent keep-alive connections, in an interleaved order where
some copies of an event are in flight at the same moment and others arrive
much later.  Each delivery is signed when it is sent, as Stripe signs each
attempt (Stripe-Signature: t=<now>,v1=<HMAC-SHA256>).

Then, as Stripe does, it re-sends every delivery that did not get a 2xx
(an error status, a refused or cut connection, a timeout) until all have one
or --retry-for seconds have passed.

Checks made here (exit status 1 if one fails; the database side is
test/lib/invariants.sql and test/lib/storm_invariants.sql):
  * every delivery ended with a 2xx;
  * all 2xx answers for one checkout.session.completed event name the same
    order;
  * no event was answered "order created" more than once (--strict: exactly
    once, which holds when no answer can have been lost);
  * refund and dispute events, which come in any order with their session's
    (before its order exists, too), get a 2xx like any other;
  * every answer is JSON with the status the HTTP status line carries.

Progress (deliveries finished in the first pass) goes to --progress, so a
fault script can strike in the middle of the load; the figures go to
--report as JSON and to stderr as text.  Standard library only.
"""

import argparse
import copy
import csv
import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.parse

WEBHOOK_PATH = "/api/payments/stripe_webhook/"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="relay base URL, http://HOST:PORT")
    p.add_argument("--secret", required=True, help="signing secret (whsec_...)")
    p.add_argument("--sessions", required=True, help="CSV of paid sessions")
    p.add_argument("--template", required=True, help="checkout.session.completed event fixture")
    p.add_argument("--payments", help="CSV of refund and dispute events (event_id, type, object)")
    p.add_argument("--copies", type=int, default=3, help="deliveries per event (default 3)")
    p.add_argument("--connections", type=int, default=32, help="concurrent HTTP connections")
    p.add_argument("--seed", type=int, default=1, help="random seed of the delivery order")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--retry-for", type=float, default=120.0,
                   help="re-send deliveries without a 2xx for at most this long (seconds)")
    p.add_argument("--progress", help="file updated with 'DONE TOTAL' during the first pass")
    p.add_argument("--report", help="write the figures here as JSON")
    p.add_argument("--strict", action="store_true",
                   help="every event must be answered 'order created' exactly once")
    return p.parse_args()


def load_sessions(path):
    """Rows of the sessions CSV (no header) as dicts."""
    with open(path, newline="") as f:
        return [dict(zip(("session_id", "event_id", "cart_id", "user_id", "amount_subtotal", "currency"), row))
                for row in csv.reader(f) if row]


def load_payments(path):
    """Refund and dispute events as (event_id, type, object) rows."""
    if not path or not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [(row[0], row[1], json.loads(row[2])) for row in csv.reader(f) if row]


def make_payment_body(event_id, etype, obj):
    """A refund or dispute event around its object, as bytes."""
    ev = {"id": event_id, "object": "event", "api_version": "2026-07-29.dahlia",
          "created": int(time.time()), "data": {"object": obj}, "livemode": False,
          "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": etype}
    return json.dumps(ev, indent=2).encode("utf-8")


def make_body(template, s):
    """A checkout.session.completed event for one session, as bytes."""
    ev = copy.deepcopy(template)
    ev["id"] = s["event_id"]
    ev["created"] = int(time.time())
    obj = ev["data"]["object"]
    obj["id"] = s["session_id"]
    obj["client_reference_id"] = s["cart_id"]
    obj["metadata"] = {"user_id": s["user_id"], "cart_id": s["cart_id"]}
    obj["amount_subtotal"] = int(s["amount_subtotal"])
    obj["amount_total"] = int(s["amount_subtotal"]) + 500
    obj["currency"] = s["currency"]
    obj["payment_intent"] = "pi_" + s["session_id"][3:]
    obj["payment_status"] = "paid"
    return json.dumps(ev, indent=2).encode("utf-8")


def sign(body, secret):
    """The Stripe-Signature header for body, signed now."""
    t = str(int(time.time()))
    mac = hmac.new(secret.encode("utf-8"), t.encode("ascii") + b"." + body, hashlib.sha256)
    return "t=%s,v1=%s" % (t, mac.hexdigest())


class Delivery:
    """One delivery of one event (Stripe retries each until it gets a 2xx)."""

    __slots__ = ("event", "copy", "attempts", "ok", "answers")

    def __init__(self, event, n):
        self.event = event
        self.copy = n
        self.attempts = 0
        self.ok = False
        self.answers = []       # (http status or None, parsed JSON or error text)


def delivery_order(nevents, copies, rng):
    """Interleave the copies of every event: the first copies in a random
    order, the second copy of each within a few dozen places of its first
    (so both are in flight at once, racing), the others anywhere."""
    keyed = []
    ranks = list(range(nevents))
    rng.shuffle(ranks)
    for e, r in enumerate(ranks):
        base = r * copies
        keyed.append((base, e, 0))
        if copies > 1:
            keyed.append((base + rng.uniform(0, 40 * copies), e, 1))
        for c in range(2, copies):
            keyed.append((rng.uniform(0, nevents * copies), e, c))
    keyed.sort()
    return [(e, c) for _, e, c in keyed]


class Sender:
    """A worker's keep-alive connection to the relay."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def post(self, body, header):
        """POST one delivery: (status, parsed JSON) or (None, error text)."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request("POST", WEBHOOK_PATH, body=body,
                              headers={"Content-Type": "application/json; charset=utf-8",
                                       "Stripe-Signature": header,
                                       "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
            resp = self.conn.getresponse()
            raw = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, "%s: %s" % (type(e).__name__, e)
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"unparsable": raw[:200].decode("utf-8", "replace")}
        return resp.status, answer

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Storm:
    """The deliveries, the worker threads and the figures."""

    def __init__(self, args):
        self.args = args
        u = urllib.parse.urlsplit(args.url)
        self.host, self.port = u.hostname, u.port or 80
        with open(args.template) as f:
            template = json.load(f)
        self.sessions = load_sessions(args.sessions)
        self.payments = load_payments(args.payments)
        # events 0..nsessions-1 are the sessions', the others refunds and disputes
        self.nsessions = len(self.sessions)
        self.bodies = [make_body(template, s) for s in self.sessions]
        self.bodies += [make_payment_body(*p) for p in self.payments]
        self.event_ids = [s["event_id"] for s in self.sessions] + [p[0] for p in self.payments]
        rng = random.Random(args.seed)
        self.order = [Delivery(e, c) for e, c in delivery_order(len(self.bodies), args.copies, rng)]
        self.lock = threading.Lock()
        self.done = 0
        self.latencies = []
        self.first_pass = {}
        self.protocol_errors = []

    def send(self, sender, d):
        """Deliver d once and record the answer."""
        t0 = time.monotonic()
        status, answer = sender.post(self.bodies[d.event], sign(self.bodies[d.event], self.args.secret))
        elapsed = time.monotonic() - t0
        d.attempts += 1
        d.answers.append((status, answer))
        d.ok = status is not None and 200 <= status < 300
        if status is not None and (not isinstance(answer, dict) or answer.get("status") != status):
            with self.lock:
                self.protocol_errors.append((self.event_ids[d.event], status, answer))
        return status, elapsed

    def run_pass(self, deliveries, first):
        """Send deliveries from --connections threads, in order."""
        work = queue.Queue()
        for d in deliveries:
            work.put(d)

        def worker():
            sender = Sender(self.host, self.port, self.args.timeout)
            while True:
                try:
                    d = work.get_nowait()
                except queue.Empty:
                    break
                status, elapsed = self.send(sender, d)
                if first:
                    key = str(status) if status is not None else "no answer"
                    with self.lock:
                        self.done += 1
                        self.first_pass[key] = self.first_pass.get(key, 0) + 1
                        self.latencies.append(elapsed)
            sender.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.args.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def progress_writer(self, stop):
        """Write 'DONE TOTAL' to --progress every 20 ms until stopped."""
        total = len(self.order)
        while not stop.is_set():
            with open(self.args.progress + ".tmp", "w") as f:
                f.write("%d %d\n" % (self.done, total))
            # rename: a reader never sees a half-written file
            os.replace(self.args.progress + ".tmp", self.args.progress)
            stop.wait(0.02)

    def run(self):
        stop = threading.Event()
        if self.args.progress:
            pw = threading.Thread(target=self.progress_writer, args=(stop,), daemon=True)
            pw.start()
        t0 = time.monotonic()
        self.run_pass(self.order, True)
        first_secs = time.monotonic() - t0
        stop.set()
        if self.args.progress:
            pw.join()
            with open(self.args.progress, "w") as f:
                f.write("%d %d\n" % (self.done, len(self.order)))

        # Stripe's retries: every delivery without a 2xx, until all have one
        rounds = 0
        resent = 0
        deadline = time.monotonic() + self.args.retry_for
        pause = 0.2
        while True:
            pending = [d for d in self.order if not d.ok]
            if not pending or time.monotonic() > deadline:
                break
            rounds += 1
            resent += len(pending)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            self.run_pass(pending, False)
        total_secs = time.monotonic() - t0
        return self.figures(first_secs, total_secs, rounds, resent)

    def figures(self, first_secs, total_secs, rounds, resent):
        """Summarise, and check what can be checked from the answers."""
        problems = []
        per_event = {}
        final = {}
        messages = {}
        for d in self.order:
            per_event.setdefault(d.event, []).append(d)
            status, answer = d.answers[-1]
            final[str(status) if status is not None else "no answer"] = \
                final.get(str(status) if status is not None else "no answer", 0) + 1
            if not d.ok:
                problems.append("%s copy %d: no 2xx after %d attempts (last: %s %s)"
                                % (self.event_ids[d.event], d.copy, d.attempts, status, answer))
        created = 0
        payment_messages = {}
        for e, ds in per_event.items():
            if e >= self.nsessions:
                for d in ds:
                    for status, answer in d.answers:
                        if status is not None and 200 <= status < 300:
                            msg = answer.get("message", "")
                            payment_messages[msg] = payment_messages.get(msg, 0) + 1
                continue
            orders = set()
            n_created = 0
            for d in ds:
                for status, answer in d.answers:
                    if status is not None and 200 <= status < 300:
                        orders.add(answer.get("order_id"))
                        msg = answer.get("message", "")
                        messages[msg] = messages.get(msg, 0) + 1
                        if msg.startswith("order created"):
                            n_created += 1
            eid = self.sessions[e]["event_id"]
            if None in orders or len(orders) != 1:
                problems.append("%s: 2xx answers name orders %s" % (eid, sorted(map(str, orders))))
            if n_created > 1 or (self.args.strict and n_created != 1):
                problems.append("%s: answered 'order created' %d times" % (eid, n_created))
            created += n_created
        for eid, status, answer in self.protocol_errors[:10]:
            problems.append("%s: HTTP %s but body %s" % (eid, status, answer))
        lat = sorted(self.latencies)

        def pct(p):
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

        return {
            "events": len(self.sessions),
            "payment_events": len(self.payments),
            "payment_answers_by_message": payment_messages,
            "deliveries": len(self.order),
            "copies_per_event": self.args.copies,
            "connections": self.args.connections,
            "first_pass_seconds": round(first_secs, 2),
            "first_pass_deliveries_per_second": round(len(self.order) / first_secs, 1) if first_secs else None,
            "first_pass_status": self.first_pass,
            "latency_ms_p50": pct(0.50),
            "latency_ms_p99": pct(0.99),
            "retry_rounds": rounds,
            "deliveries_resent": resent,
            "final_status": final,
            "answers_by_message": messages,
            "events_answered_order_created": created,
            "total_seconds": round(total_secs, 2),
            "problems": problems[:50],
            "problem_count": len(problems),
        }


def main():
    args = parse_args()
    figures = Storm(args).run()
    if args.report:
        with open(args.report, "w") as f:
            json.dump(figures, f, indent=2, sort_keys=True)
    for k in ("events", "deliveries", "connections", "first_pass_seconds", "first_pass_deliveries_per_second",
              "first_pass_status", "latency_ms_p50", "latency_ms_p99", "retry_rounds", "deliveries_resent",
              "final_status", "answers_by_message", "payment_events", "payment_answers_by_message",
              "problem_count"):
        print("# %-34s %s" % (k, json.dumps(figures[k], sort_keys=True)), file=sys.stderr)
    for p in figures["problems"]:
        print("# problem: %s" % p, file=sys.stderr)
    sys.exit(1 if figures["problem_count"] else 0)


if __name__ == "__main__":
    main()
