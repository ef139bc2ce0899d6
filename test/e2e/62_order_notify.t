#!/usr/bin/python3
# test/e2e/62_order_notify.t: order changes NOTIFY stripe_webhook_orders only
# once a listener has registered (a row in order_change_cursors): a
# transaction that notifies takes a database-wide lock at commit, which would
# make every fulfilment's commit wait for every other's.  The durable record
# (order_changes) is written either way.  A connection LISTENs while another
# fulfils sessions before and after a cursor row exists.
import os
import select
import sys

import psycopg2

DB = "sw_notify_%d" % os.getpid()
n = 0


def ok(cond, desc, detail=None):
    global n
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond and detail is not None:
        print("#   %s" % detail)


def connect(db):
    c = psycopg2.connect(dbname=db)
    c.autocommit = True
    return c


def notifications(conn, wait):
    """The notifications that arrive within wait seconds."""
    got = []
    if select.select([conn], [], [], wait) != ([], [], []):
        conn.poll()
    while conn.notifies:
        got.append(conn.notifies.pop(0))
    return got


def fulfil(conn, sid, user, cart):
    with conn.cursor() as cur:
        cur.execute("INSERT INTO stripe_webhook.carts (id, user_id) VALUES (%s, %s)", (cart, user))
        cur.execute("INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES (%s, 1, 1)", (cart,))
        cur.execute("""SELECT stripe_webhook.stripe_fulfill_session(jsonb_build_object(
                           'object', 'checkout.session', 'id', %s,
                           'metadata', jsonb_build_object('user_id', %s, 'cart_id', %s::text),
                           'payment_status', 'paid', 'currency', 'usd',
                           'amount_subtotal', 500, 'amount_total', 500))::text""", (sid, user, cart))
        return cur.fetchone()[0]


print("1..6")
admin = connect("postgres")
admin.cursor().execute("CREATE DATABASE %s" % DB)
try:
    work = connect(DB)
    work.cursor().execute("CREATE EXTENSION stripe_webhook")
    work.cursor().execute("INSERT INTO stripe_webhook.products (id, name, price_amount, stock) VALUES (1, 'tea', 500, 10)")
    listen = connect(DB)
    listen.cursor().execute("LISTEN stripe_webhook_orders")

    first = fulfil(work, "cs_notify_1", "6201", 6201)
    got = notifications(listen, 1.0)
    ok(got == [], "no listener registered: no notification", got)
    with work.cursor() as cur:
        cur.execute("SELECT count(*) FROM stripe_webhook.order_changes WHERE order_id = %s", (first,))
        ok(cur.fetchone()[0] == 1, "... but the order change is recorded")

    work.cursor().execute("INSERT INTO stripe_webhook.order_change_cursors (listener) VALUES ('e2e')")
    second = fulfil(work, "cs_notify_2", "6202", 6202)
    got = notifications(listen, 5.0)
    ok(len(got) == 1 and got[0].channel == "stripe_webhook_orders",
       "a listener registered: one notification on stripe_webhook_orders", got)
    ok(len(got) == 1 and ('"order_id" : "%s"' % second) in got[0].payload
       and '"change" : "order_created"' in got[0].payload,
       "... whose payload names the new order and the change", got and got[0].payload)

    work.cursor().execute("BEGIN")
    fulfil(work, "cs_notify_3", "6203", 6203)
    work.cursor().execute("ROLLBACK")
    got = notifications(listen, 1.0)
    ok(got == [], "a rolled-back fulfilment sends nothing", got)
    with work.cursor() as cur:
        cur.execute("SELECT count(*) FROM stripe_webhook.order_changes WHERE checkout_session_id = 'cs_notify_3'")
        ok(cur.fetchone()[0] == 0, "... and records nothing")
    listen.close()
    work.close()
finally:
    admin.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
