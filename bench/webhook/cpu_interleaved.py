#!/usr/bin/python3
"""bench/webhook/cpu_interleaved.py: server CPU time per delivery on one
connection, the three variants interleaved in short blocks.

    cpu_interleaved.py DSN SECRET [BLOCK] [ROUNDS]

One backend runs BLOCK calls of fulfil, then BLOCK of webhook, then BLOCK of
lean (keep_payloads = unprocessed), ROUNDS times; the backend's own CPU time
(/proc/<pid>/schedstat, in nanoseconds) is taken per block; the mean and
the median over blocks are reported per variant.  Interleaving in short
blocks exposes the three to the same conditions, so the ratio holds up even
when other work shares the machine.  Every call must answer 200 / return an
order.  Run by bench/webhook/run.sh on its cluster (same host, so /proc/<pid>
of the backend is readable).
"""
import os
import sys

import psycopg2

dsn, secret = sys.argv[1], sys.argv[2]
block = int(sys.argv[3]) if len(sys.argv) > 3 else 100
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20

conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SELECT pg_backend_pid()")
pid = cur.fetchone()[0]
tick = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    """CPU time of the backend: /proc/<pid>/schedstat (nanoseconds) where
    the kernel has it, else utime + stime (clock ticks)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * tick


event = ("(SELECT replace(t.body, '@N@', (SELECT nextval('bench.cart_seq'))::text) AS p "
         "FROM bench.template t) s")
queries = {
    "fulfil": "SELECT stripe_webhook.stripe_fulfill_session((p::jsonb) -> 'data' -> 'object') IS NOT NULL, "
              "stripe_webhook.stripe_signature_header(p, %s) IS NOT NULL FROM " + event,
    "webhook": "SELECT (stripe_webhook.stripe_handle_webhook(p, stripe_webhook.stripe_signature_header(p, %s)) "
               "->> 'status') = '200' FROM " + event,
}
variants = [("fulfil", "fulfil", "all"), ("webhook", "webhook", "all"), ("lean", "webhook", "unprocessed")]
total = {name: 0.0 for name, _, _ in variants}
per_block = {name: [] for name, _, _ in variants}

for _ in range(rounds):
    for name, query, keep in variants:
        cur.execute("SET stripe_webhook.keep_payloads = %s", (keep,))
        start = cpu_seconds()
        for _ in range(block):
            cur.execute(queries[query], (secret,))
            row = cur.fetchone()
            if not row[0]:
                sys.exit("%s: a call did not succeed: %r" % (name, row))
        used = cpu_seconds() - start
        total[name] += used
        per_block[name].append(used / block)

def median(values):
    """The median of a list."""
    v = sorted(values)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


calls = block * rounds
for label, us in (("mean", {name: total[name] / calls * 1e6 for name in total}),
                  ("median of blocks", {name: median(per_block[name]) * 1e6 for name in total})):
    print("one connection, %d calls each, interleaved in blocks of %d, backend CPU per delivery (%s):"
          % (calls, block, label))
    print("  fulfil %.0f us, webhook %.0f us (overhead %.1f%%), lean %.0f us (overhead %.1f%%)"
          % (us["fulfil"], us["webhook"], (us["webhook"] / us["fulfil"] - 1) * 100,
             us["lean"], (us["lean"] / us["fulfil"] - 1) * 100))
