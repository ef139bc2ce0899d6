#!/usr/bin/python3
"""test/e2e/72_django_listener.t: stripe_webhook.order_changes, its NOTIFY,
and `manage.py stripe_webhook_listen` turning changes into Django signals.

Changes are inserted by hand here (as the fulfilment inserts them: in the
transaction of the order change), so that commit order, rollbacks and
long-open transactions can be arranged exactly:

  - a BindShop() operation in a migration binds, and reversing it unbinds;
  - the trigger NOTIFYs stripe_webhook_orders with a small JSON at commit,
    and nothing for a rolled-back insert;
  - the web role may read changes and move its cursor, not insert changes;
  - each committed change gives exactly one signal with the shop's Order;
    a rolled-back one never does;
  - a change committed after one with a higher id (a "hole" while its
    transaction was open) is still delivered, once, and the cursor then
    moves past both; a hole left by a rollback is given up once every
    transaction open at the time has ended;
  - a listener killed with SIGKILL resumes where it stopped; a receiver that
    raises gets the change again; a new listener name catches up on the
    whole record (--once); a change of a deleted order is skipped.

Prints TAP.  Run with Debian's /usr/bin/python3.
"""
import json
import os
import select
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import djshop  # noqa: E402
from djshop import connect, is_, ok, query, sqlstate_of  # noqa: E402

INSERT_CHANGE = ("INSERT INTO stripe_webhook.order_changes (order_table, order_id, change, status, "
                 "checkout_session_id, stripe_event_id) VALUES ('public.shop_order', %s, %s, %s, %s, %s) RETURNING id")


def new_order(db, user, cart, n):
    """A row in the shop's order table, as the fulfilment would leave it."""
    return query(db, """
        INSERT INTO shop_order (user_id, cart_id, status, payment_status, stripe_session_id, shipping_name,
                                shipping_line1, shipping_line2, shipping_city, shipping_postal_code, shipping_state,
                                shipping_country, total, created_at)
        VALUES (%s, %s, 'confirmed', 'paid', %s, '', '', '', '', '', '', '', 10, now()) RETURNING id::text""",
                 (user, cart, "cs_test_listener_%d_%d" % (n, os.getpid())))[0][0]


def add_change(conn, order, change="order_created", n=0):
    """Insert one change on conn (committed if conn is autocommit)."""
    return query(conn, INSERT_CHANGE, (order, change, "confirmed", "cs_test_listener_%d" % n,
                                       "evt_listener_%d_%d" % (n, os.getpid())))[0][0]


def cursor_of(db, name):
    rows = query(db, "SELECT last_id, done_ids FROM stripe_webhook.order_change_cursors WHERE listener = %s", (name,))
    return rows[0] if rows else None


def wait_for(pred, timeout=20):
    """Poll pred() until it is true or the timeout passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def main(shop):
    pip = shop.install(bind_migration=True)
    if not ok(pip.returncode == 0, "the app installs with pip", pip.stdout):
        return
    shop.create_database()
    db = connect(shop.dbname)
    query(db, 'ALTER DATABASE "%s" OWNER TO postgres' % shop.dbname)
    bound = "SELECT builtin, document #>> '{orders,table}' FROM stripe_webhook.shop_binding"
    # The migration operation binds (post_migrate binding switched off).
    mig = shop.manage("postgres", "migrate", "--no-input", SW_BIND_AFTER_MIGRATE="0")
    ok(mig.returncode == 0 and "Applying shophooks.0001_bind... OK" in mig.stdout
       and "stripe_webhook: bound" not in mig.stdout,
       "migrate as a superuser: the BindShop() migration creates the extension and binds", mig.stdout)
    is_(query(db, bound), [(False, "public.shop_order")], "BindShop(): the shop's tables are bound")
    mig = shop.manage("postgres", "migrate", "shophooks", "zero", "--no-input", SW_BIND_AFTER_MIGRATE="0")
    ok(mig.returncode == 0, "migrate shophooks zero (BindShop reversed)", mig.stdout)
    is_(query(db, bound), [(True, "stripe_webhook.orders")], "reversed: unbound, the built-in tables again")
    mig = shop.manage("postgres", "migrate", "--no-input")
    ok(mig.returncode == 0 and "stripe_webhook: bound" not in mig.stdout,
       "migrate again (BindShop, then the post_migrate binding finds it unchanged)", mig.stdout)
    is_(query(db, bound), [(False, "public.shop_order")], "bound again")
    roles = shop.psql("postgres", path=os.path.join(djshop.APP_DIR, "sql", "roles.sql"),
                      variables={"web_role": shop.web, "owner_role": shop.owner})
    ok(roles.returncode == 0, "sql/roles.sql", roles.stdout)

    user = query(db, "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
                     "is_staff, is_active, date_joined) VALUES ('', false, 'lis', '', '', '', false, true, now()) "
                     "RETURNING id")[0][0]
    cart = query(db, "INSERT INTO shop_cart (user_id, locked, created_at) VALUES (%s, true, now()) RETURNING id",
                 (user,))[0][0]
    orders = [new_order(db, user, cart, n) for n in range(12)]

    # NOTIFY at commit only, once a listener has registered (a cursor row;
    # the listener below registers itself the same way, and drops this one).
    query(db, "INSERT INTO stripe_webhook.order_change_cursors (listener) VALUES ('e2e-notify')")
    lconn = connect(shop.dbname)
    query(lconn, "LISTEN stripe_webhook_orders")
    tx = connect(shop.dbname)
    tx.autocommit = False
    query(tx, INSERT_CHANGE, (orders[0], "order_created", "confirmed", "cs_x", "evt_rolled_back"))
    tx.rollback()
    select.select([lconn], [], [], 1.0)
    lconn.poll()
    is_(len(lconn.notifies), 0, "a rolled-back change sends no notification")
    cid = add_change(db, orders[0], n=0)
    select.select([lconn], [], [], 5.0)
    lconn.poll()
    notes = [json.loads(n.payload) for n in lconn.notifies if n.channel == "stripe_webhook_orders"]
    is_(notes, [{"id": cid, "change": "order_created", "order_id": orders[0],
                 "stripe_event_id": "evt_listener_0_%d" % os.getpid()}],
        "a committed change notifies stripe_webhook_orders with id, change, order_id, stripe_event_id")
    lconn.close()
    query(db, "DELETE FROM stripe_webhook.order_change_cursors WHERE listener = 'e2e-notify'")

    web = connect(shop.dbname, shop.web)
    is_(sqlstate_of(web, INSERT_CHANGE, (orders[0], "order_created", "x", "cs", None)), "42501",
        "the web role cannot insert order changes (42501)")
    is_(sqlstate_of(web, "SELECT count(*) FROM stripe_webhook.order_changes"), None, "the web role reads order changes")
    is_(sqlstate_of(db, INSERT_CHANGE, (orders[0], "order_shipped", "x", "cs", None)), "23514",
        "an unknown change word is refused (23514)")
    web.close()

    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "t72", "--rescan", "3600"], "listen.log")
    got = shop.wait_signals(1)
    is_([(g[0], g[1], g[2]) for g in got], [("order_created", str(cid), orders[0])],
        "the listener sends the change committed before it started, once")

    # A hole: B takes an id, C a later one and commits first.
    tb = connect(shop.dbname)
    tb.autocommit = False
    b = add_change(tb, orders[1], "order_needs_review", n=1)
    c = add_change(db, orders[2], "order_cancelled", n=2)
    ok(b < c, "B took a lower id than C (%d < %d)" % (b, c))
    got = shop.wait_signals(2)
    is_([(g[0], g[2]) for g in got[1:]], [("order_cancelled", orders[2])],
        "C (committed) is sent while B's transaction is open")
    wait_for(lambda: cursor_of(db, "t72") == (cid, [c]), 10)
    is_(cursor_of(db, "t72"), (cid, [c]), "the cursor stays below B's id and lists C as done")
    tb.commit()
    tb.close()
    got = shop.wait_signals(3)
    is_([(g[0], g[2]) for g in got[2:]], [("order_needs_review", orders[1])], "B is sent once it commits")
    wait_for(lambda: cursor_of(db, "t72") == (c, []), 10)
    is_(cursor_of(db, "t72"), (c, []), "the cursor moves past B and C")

    # A hole that never fills: D rolls back, E commits.
    td = connect(shop.dbname)
    td.autocommit = False
    d = add_change(td, orders[3], n=3)
    e = add_change(db, orders[4], n=4)
    got = shop.wait_signals(4)
    is_([(g[0], g[2]) for g in got[3:]], [("order_created", orders[4])], "E is sent while D is open")
    time.sleep(1.5)
    is_(cursor_of(db, "t72"), (c, [e]), "the cursor waits at D's hole while D's transaction is open")
    td.rollback()
    td.close()
    wait_for(lambda: cursor_of(db, "t72") == (e, []), 10)
    is_(cursor_of(db, "t72"), (e, []), "after D rolled back the cursor moves past its hole (id %d)" % d)
    ok(all(g[2] != orders[3] for g in shop.signals()), "the rolled-back change D was never sent")

    # SIGKILL, changes meanwhile, restart.
    shop.stop(listener, signal.SIGKILL)
    f = add_change(db, orders[5], n=5)
    g_ = add_change(db, orders[6], "order_cancelled", n=6)
    time.sleep(0.5)
    is_(len(shop.signals()), 4, "nothing is sent while the listener is down")
    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "t72", "--rescan", "3600"], "listen.log")
    got = shop.wait_signals(6)
    time.sleep(1)
    got = shop.signals()
    is_([(x[0], x[2]) for x in got[4:]], [("order_created", orders[5]), ("order_cancelled", orders[6])],
        "after a restart the missed changes are sent once, in order, and nothing earlier again")
    shop.stop(listener)

    # A receiver that raises: the change is sent again until it went through.
    fail_flag = os.path.join(shop.dir, "failed-once")
    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "t72", "--rescan", "3600"], "listen.log",
                          SW_SIGNAL_FAIL_ONCE=fail_flag)
    h = add_change(db, orders[7], n=7)
    got = shop.wait_signals(7)
    ok(os.path.exists(fail_flag), "the receiver raised on the first attempt")
    is_([(x[0], x[2]) for x in got[6:]], [("order_created", orders[7])],
        "the change whose receiver raised is sent again and goes through")
    ok("a receiver raised" in shop.log("listen.log"), "the listener logged the receiver's error")
    wait_for(lambda: cursor_of(db, "t72") == (h, []), 10)
    is_(cursor_of(db, "t72"), (h, []), "the cursor moved past it only after it went through")

    # A change of an order deleted since: skipped, the cursor moves on.
    query(db, "DELETE FROM shop_order WHERE id::text = %s", (orders[8],))
    i = add_change(db, orders[8], n=8)
    j = add_change(db, orders[9], n=9)
    got = shop.wait_signals(8)
    time.sleep(0.5)
    is_([(x[0], x[2]) for x in shop.signals()[7:]], [("order_created", orders[9])],
        "a change of a deleted order is skipped, the next one sent")
    wait_for(lambda: cursor_of(db, "t72") == (j, []), 10)
    is_(cursor_of(db, "t72"), (j, []), "the cursor moved past the skipped change (id %d)" % i)
    shop.stop(listener)
    ok(listener.returncode == 0 and "change(s) sent" in shop.log("listen.log"), "SIGTERM stops the listener cleanly",
       shop.log("listen.log")[-2000:])

    # A change committed while a (slow) receiver runs: its notification
    # reaches the listener's connection during the listener's own queries;
    # it is still sent at once, not at the next rescan (an hour here).
    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "t72", "--rescan", "3600"], "listen.log",
                          SW_SIGNAL_SLEEP="1")
    k = add_change(db, orders[10], n=10)
    time.sleep(0.5)
    l_ = add_change(db, orders[11], "order_refunded", n=11)
    got = shop.wait_signals(10, timeout=15)
    is_([(x[0], x[2]) for x in got[8:]], [("order_created", orders[10]), ("order_refunded", orders[11])],
        "a change committed during a receiver is sent right after it (no rescan needed); order_refunded too")
    shop.stop(listener)
    j = l_

    # A new listener name catches up on the whole durable record.
    other_log = os.path.join(shop.dir, "other-signals.log")
    once = shop.manage(shop.web, "stripe_webhook_listen", "--name", "t72-other", "--once", SW_SIGNAL_LOG=other_log)
    with open(other_log) if os.path.exists(other_log) else open(os.devnull) as fh:
        lines = [x.split() for x in fh if x.strip()]
    expected = [int(r[0]) for r in query(db, "SELECT id FROM stripe_webhook.order_changes WHERE order_id <> %s "
                                             "ORDER BY id", (orders[8],))]
    ok(once.returncode == 0, "stripe_webhook_listen --once exits 0", once.stdout)
    is_([int(x[1]) for x in lines], expected, "a new listener (--once) sends every recorded change once, in order")
    is_(cursor_of(db, "t72-other"), (j, []), "and leaves its own cursor at the end")
    again = shop.manage(shop.web, "stripe_webhook_listen", "--name", "t72-other", "--once", SW_SIGNAL_LOG=other_log)
    with open(other_log) as fh:
        n_after = len([x for x in fh if x.strip()])
    ok(again.returncode == 0 and n_after == len(lines), "running it again sends nothing", again.stdout)
    db.close()


if __name__ == "__main__":
    shop = djshop.Shop("listen")
    try:
        main(shop)
    except Exception:
        ok(False, "unexpected exception", traceback.format_exc())
    finally:
        shop.cleanup()
    sys.exit(djshop.finish())
