#!/usr/bin/python3
"""test/e2e/71_django_shop.t: an existing Django shop adopts the extension
with django-stripe-webhook, end to end over real HTTP.

The existing shop (its own models in shop_* tables, Decimal prices, uuid
order ids, its own status words) is copied to a scratch folder; its models
and migrations stay as they are.  The test installs the app with pip into a
virtualenv, adds a settings module (INSTALLED_APPS, the URL, STRIPE_WEBHOOK),
and then:

  - migrates as the shop's migration role (not a superuser): the shop's
    tables are created, and the app says what to run, as whom, to bind;
  - binds with `stripe_webhook_bind --sql` piped to psql as a superuser,
    runs django-stripe-webhook/sql/roles.sql; `manage.py check` is clean;
  - the web role adds to a cart and edits stock, but cannot change an
    order's payment state or read secrets and events; the relay role can
    only call the handler;
  - over runserver: forged deliveries (tampered body, other secret, missing
    or empty header, stale timestamp, invalid UTF-8, NUL byte, 3 MB body)
    get 400 and write nothing; a signed checkout.session.completed (its
    header also verified by Stripe's Python library) creates the order in
    shop_order with its items, reduces stock in shop_product, locks the cart
    and opens a new one; a duplicate gets 200 and the same single order; a
    tampered replay after it gets 400; an unhandled event type gets 200 and
    is recorded as ignored; the database refusing the call answers 503;
    neither Django's nor PostgreSQL's log holds the secret, the signature or
    the body;
  - `manage.py stripe_webhook_listen` sends order_created exactly once,
    also for an order created while it was killed (it resumes);
  - `stripe_webhook_status` and `stripe_webhook_replay`;
  - `manage.py check` reports a deliberately broken binding (settings and
    database drift) with the check ids;
  - the shop's own `manage.py test` passes (the test database gets the
    extension and the binding), and so do the app's own tests.

Prints TAP.  Run with Debian's /usr/bin/python3.
"""
import json
import os
import signal
import sys
import time
import traceback
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import djshop  # noqa: E402
from djshop import connect, diag, is_, ok, post, query, sign, sqlstate_of  # noqa: E402

SECRET = "whsec_djshop_e2e_%d_0123456789abcdef" % os.getpid()


def snapshot(db):
    """Everything a delivery could write: the shop's tables, the extension's
    inbox and order changes (counts and a digest)."""
    snap = {}
    for table in ("shop_product", "shop_cart", "shop_cartitem", "shop_order", "shop_orderitem",
                  "stripe_webhook.events", "stripe_webhook.order_changes", "stripe_webhook.checkout_sessions"):
        snap[table] = query(db, "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                                "FROM %s t" % table)[0]
    return snap


def main(shop):
    pglog = os.environ.get("SW_PGLOG")
    pglog_start = os.path.getsize(pglog) if pglog and os.path.exists(pglog) else None
    pip = shop.install()
    if not ok(pip.returncode == 0, "pip install --no-build-isolation --no-deps ./django-stripe-webhook into a venv",
              pip.stdout):
        return
    where = shop.manage("postgres", "shell", "-c", "import stripe_webhook_django as m; print(m.__file__)")
    ok(where.returncode == 0 and os.path.join(shop.venv, "lib") in where.stdout,
       "the shop imports stripe_webhook_django from the venv", where.stdout)

    shop.create_database()
    db = connect(shop.dbname)

    # Migrate as the shop's migration role: tables yes, binding no (the
    # extension is untrusted), with a message saying what to run as whom.
    mig = shop.manage(shop.owner, "migrate", "--no-input")
    ok(mig.returncode == 0, "migrate as the migration role (not a superuser) succeeds", mig.stdout)
    ok("may not create the extension stripe_webhook" in mig.stdout and "stripe_webhook_bind --sql" in mig.stdout
       and "as a superuser" in mig.stdout, "migrate says the binding needs a superuser and what to run", mig.stdout)
    is_(query(db, "SELECT count(*) FROM pg_extension WHERE extname = 'stripe_webhook'")[0][0], 0,
        "the migration role installed nothing")
    tables = {r[0] for r in query(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    ok({"shop_product", "shop_cart", "shop_cartitem", "shop_order", "shop_orderitem"} <= tables,
       "the shop's own tables exist (its migrations, unchanged)", sorted(tables))
    chk = shop.manage(shop.owner, "check")
    ok(chk.returncode != 0 and "stripe_webhook_django.E101" in chk.stdout,
       "manage.py check before binding: E101, extension not installed", chk.stdout)

    # The DBA's part: the SQL from --sql, run as a superuser.
    script = shop.manage(shop.owner, "stripe_webhook_bind", "--sql")
    ok(script.returncode == 0 and "bind_shop(" in script.stdout, "stripe_webhook_bind --sql prints the SQL",
       script.stdout)
    res = shop.psql("postgres", sql=script.stdout)
    ok(res.returncode == 0, "the printed SQL runs as a superuser", res.stdout)
    bound = query(db, "SELECT builtin, document #>> '{orders,table}', document #>> '{orders,columns,checkout_session}', "
                      "document #>> '{products,columns,price}' FROM stripe_webhook.shop_binding")
    is_(bound, [(False, "public.shop_order", "stripe_session_id", "price")],
        "the binding names the shop's own tables and columns")
    is_(query(db, "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                  "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                  "WHERE d.adrelid = 'shop_order'::regclass AND a.attname = 'id'"),
        [("gen_random_uuid()",)], "shop_order.id (uuid4 in Python) got a database default")
    again = shop.manage("postgres", "stripe_webhook_bind")
    ok(again.returncode == 0 and "unchanged" in again.stdout, "stripe_webhook_bind again: unchanged", again.stdout)
    version = query(db, "SELECT version FROM stripe_webhook.shop_binding")[0][0]

    roles = shop.psql("postgres", path=os.path.join(djshop.APP_DIR, "sql", "roles.sql"),
                      variables={"web_role": shop.web, "owner_role": shop.owner})
    ok(roles.returncode == 0, "sql/roles.sql runs as a superuser", roles.stdout)
    roles = shop.psql("postgres", path=os.path.join(djshop.APP_DIR, "sql", "roles.sql"),
                      variables={"web_role": shop.web, "owner_role": shop.owner})
    ok(roles.returncode == 0, "sql/roles.sql runs again (idempotent)", roles.stdout)

    chk = shop.manage(shop.web, "check")
    ok(chk.returncode == 0 and "no issues" in chk.stdout, "manage.py check as the web role: no issues", chk.stdout)
    mig = shop.manage(shop.owner, "migrate", "--no-input")
    ok(mig.returncode == 0 and query(db, "SELECT version FROM stripe_webhook.shop_binding")[0][0] == version,
       "migrate again: binding untouched (same version)", mig.stdout)

    # The web role does what a shop does, as a shop would (the ORM).
    web = connect(shop.dbname, shop.web)
    setup = shop.manage(shop.web, "shell", "-c", """
from decimal import Decimal
from django.contrib.auth.models import User
from shop.models import Cart, CartItem, Product
u1 = User.objects.create_user("ada"); u2 = User.objects.create_user("bob")
mug = Product.objects.create(name="Mug", price=Decimal("15.00"), stock=10)
pot = Product.objects.create(name="Teapot", price=Decimal("25.00"), stock=5)
Product.objects.filter(pk=pot.pk).update(stock=6)
c1 = Cart.objects.create(user=u1); c2 = Cart.objects.create(user=u2)
CartItem.objects.create(cart=c1, product=mug, quantity=2); CartItem.objects.create(cart=c1, product=pot, quantity=1)
CartItem.objects.create(cart=c2, product=mug, quantity=3)
print("IDS", u1.pk, u2.pk, c1.pk, c2.pk, mug.pk, pot.pk)
""")
    ids = [line.split()[1:] for line in setup.stdout.splitlines() if line.startswith("IDS ")]
    if not ok(setup.returncode == 0 and ids, "the web role (ORM) creates users, products, carts, cart items and "
                                             "edits stock", setup.stdout):
        return
    u1, u2, c1, c2, mug, pot = [int(x) for x in ids[0]]
    query(db, "INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (%s)", (SECRET,))

    # Least privilege.
    is_(sqlstate_of(web, "UPDATE shop_order SET status = 'shipped'"), None, "web role may set an order's status word")
    is_(sqlstate_of(web, "UPDATE shop_order SET shipping_city = 'Paris'"), None, "web role may edit the shipping address")
    for sql, what in (("UPDATE shop_order SET payment_status = 'paid'", "change an order's payment status"),
                      ("UPDATE shop_order SET total = 0", "change an order's total"),
                      ("UPDATE shop_order SET stripe_session_id = 'cs_x'", "change an order's Checkout Session"),
                      ("INSERT INTO shop_order (id, user_id, cart_id, status, payment_status, stripe_session_id, "
                       "shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_postal_code, "
                       "shipping_state, shipping_country, total, created_at) VALUES (gen_random_uuid(), %d, %d, "
                       "'confirmed', 'paid', 'cs_fake', '', '', '', '', '', '', '', 1, now())" % (u1, c1),
                       "create an order"),
                      ("DELETE FROM shop_order", "delete orders"),
                      ("UPDATE shop_orderitem SET quantity = 1", "change order items"),
                      ("SELECT * FROM stripe_webhook.signing_secrets", "read the signing secrets"),
                      ("SELECT * FROM stripe_webhook.events", "read the event inbox"),
                      ("SELECT * FROM stripe_webhook.events_overview", "read the events overview"),
                      ("SELECT stripe_webhook.stripe_handle_webhook('{}', 't=1,v1=00')", "call the webhook handler")):
        is_(sqlstate_of(web, sql), "42501", "web role cannot %s (42501)" % what)
    relay = connect(shop.dbname, shop.relay)
    for table in ("shop_order", "shop_product", "stripe_webhook.signing_secrets", "stripe_webhook.order_changes"):
        is_(sqlstate_of(relay, "SELECT * FROM %s" % table), "42501", "relay role cannot read %s (42501)" % table)
    relay.close()

    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "e2e", "--rescan", "3600"], "listen.log")
    server, port = shop.start_server(shop.web)
    if not ok(server is not None, "runserver listens on a free loopback port"):
        diag(shop.log("runserver.log")[-3000:])
        return
    diag("runserver on 127.0.0.1:%d, database %s" % (port, shop.dbname))

    status, _, _ = post(port, b"", None, method="GET")
    is_(status, 405, "GET: 405 (POST only)")

    event, payload = make_event_for(u1, c1, "first")
    session_id = event["data"]["object"]["id"]
    body = payload.encode("utf-8")
    header = sign(db, payload, SECRET)

    try:
        import stripe
        verified = stripe.WebhookSignature.verify_header(payload, header, SECRET, tolerance=300)
        ok(verified is True, "the header from stripe_signature_header() verifies with Stripe's Python library")
    except Exception as exc:  # SignatureVerificationError or import error
        ok(False, "the header from stripe_signature_header() verifies with Stripe's Python library", repr(exc))

    before = snapshot(db)
    for name, b, h in (("tampered body (amount changed)", body.replace(b'"amount_total": 6000', b'"amount_total": 1'),
                        header),
                       ("tampered body (one space added)", body + b" ", header),
                       ("signature from another secret", body, sign(db, payload, "whsec_other_secret_0123")),
                       ("missing Stripe-Signature header", body, None),
                       ("empty Stripe-Signature header", body, ""),
                       ("timestamp one hour old", body, sign(db, payload, SECRET, -3600)),
                       ("invalid UTF-8 in the body", body.replace("Zoë".encode(), b"Zo\xeb"), header),
                       ("NUL byte in the body", body[:20] + b"\x00" + body[20:], header)):
        ok(b != body or h != header, "forged: %s: differs from the signed delivery" % name)
        status, reply, raw = post(port, b, h)
        ok(status == 400 and isinstance(reply, dict) and reply.get("status") == 400 and reply.get("message"),
           "forged: %s: 400 with a JSON status and message" % name, raw[:300])
        is_(snapshot(db), before, "forged: %s: nothing written" % name)
    status, reply, raw = post(port, b'{"pad": "' + b"x" * 3000000 + b'"}', header)
    is_(status, 400, "3 MB body: 400 (DATA_UPLOAD_MAX_MEMORY_SIZE)")
    is_(snapshot(db), before, "3 MB body: nothing written")

    # The database refuses the call: 503 so that Stripe retries.
    query(db, "REVOKE EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) FROM %s" % shop.relay)
    status, reply, raw = post(port, body, header)
    query(db, "GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO %s" % shop.relay)
    is_(status, 503, "database refuses the call (EXECUTE revoked): 503")
    is_(snapshot(db), before, "503: nothing written")

    # The valid delivery.
    status, reply, raw = post(port, body, header)
    is_(status, 200, "signed checkout.session.completed: 200")
    orders = query(db, "SELECT id::text, user_id, cart_id, status, payment_status, total, shipping_name, "
                       "shipping_city FROM shop_order WHERE stripe_session_id = %s", (session_id,))
    is_(len(orders), 1, "one order in shop_order for the session")
    order_id = orders[0][0] if orders else None
    is_(reply.get("order_id") if isinstance(reply, dict) else None, order_id, "the answer names the order")
    if orders:
        is_(orders[0][1:], (u1, c1, "confirmed", "paid", Decimal("60.00"), "Zoë Müller", "San Francisco"),
            "the order: user, cart, status words of the shop, total in dollars, shipping (UTF-8)")
    is_(sorted(query(db, "SELECT product_id, quantity, price FROM shop_orderitem WHERE order_id::text = %s",
                     (order_id,))), [(mug, 2, Decimal("15.00")), (pot, 1, Decimal("25.00"))],
        "order items in shop_orderitem equal the cart's lines at the shop's prices")
    is_(query(db, "SELECT id, stock FROM shop_product ORDER BY id"), [(mug, 8), (pot, 5)],
        "stock reduced in shop_product")
    is_(query(db, "SELECT locked FROM shop_cart WHERE id = %s", (c1,)), [(True,)], "the paid cart is locked")
    active = query(db, "SELECT id, (SELECT count(*) FROM shop_cartitem i WHERE i.cart_id = c.id) FROM shop_cart c "
                       "WHERE user_id = %s AND NOT locked", (u1,))
    ok(len(active) == 1 and active[0][0] != c1 and active[0][1] == 0, "the user has a new, empty, active cart", active)

    got = shop.wait_signals(1)
    is_([g[:4] for g in got], [["order_created", got[0][1] if got else "?", order_id, event["id"]]],
        "order_created signal received once, with the shop's Order and the event id")
    ok(got and got[0][5] == "Order", "the signal's sender is the shop's Order model", got)

    # Duplicate delivery.
    after_first = snapshot(db)
    status, reply2, raw = post(port, body, header)
    is_(status, 200, "duplicate delivery: 200")
    is_(reply2.get("order_id") if isinstance(reply2, dict) else None, order_id, "duplicate: the same order")
    shop_only = lambda s: {k: v for k, v in s.items() if k != "stripe_webhook.events"}
    is_(shop_only(snapshot(db)), shop_only(after_first), "duplicate: shop tables and order changes unchanged")
    time.sleep(1.5)
    is_(len(shop.signals()), 1, "duplicate: no second signal")
    status, _, _ = post(port, body.replace(b'"paid"', b'"unpaid"'), header)
    is_(status, 400, "tampered replay after the success: 400")
    is_(shop_only(snapshot(db)), shop_only(after_first), "tampered replay: nothing changed")

    # An event type the extension does not handle: 200, recorded as ignored.
    other = {"id": "evt_djshop_other_%d" % os.getpid(), "object": "event", "api_version": event["api_version"],
             "created": int(time.time()), "livemode": False, "type": "customer.created",
             "data": {"object": {"id": "cus_djshop", "object": "customer"}}}
    other_payload = json.dumps(other, indent=2)
    status, _, _ = post(port, other_payload.encode(), sign(db, other_payload, SECRET))
    is_(status, 200, "customer.created (not handled): 200")
    is_(shop_only(snapshot(db)), shop_only(after_first), "customer.created: shop tables unchanged")
    is_(query(db, "SELECT status FROM stripe_webhook.events WHERE id = %s", (other["id"],)), [("ignored",)],
        "customer.created: recorded as ignored")

    # The listener dies; an order is created meanwhile; it resumes.
    shop.stop(listener, signal.SIGKILL)
    event2, payload2 = make_event_for(u2, c2, "second", amount_subtotal=4500, amount_total=5000)
    status, reply3, raw = post(port, payload2.encode(), sign(db, payload2, SECRET))
    is_(status, 200, "second checkout while the listener is down: 200")
    order2 = reply3.get("order_id") if isinstance(reply3, dict) else None
    is_(query(db, "SELECT total FROM shop_order WHERE id::text = %s", (order2,)), [(Decimal("50.00"),)],
        "second order in shop_order (total 50.00)")
    time.sleep(1)
    is_(len(shop.signals()), 1, "no signal while the listener is down")
    listener = shop.start(shop.web, ["stripe_webhook_listen", "--name", "e2e", "--rescan", "3600"], "listen.log")
    got = shop.wait_signals(2)
    time.sleep(1.5)
    got = shop.signals()
    is_([(g[0], g[2], g[3]) for g in got],
        [("order_created", order_id, event["id"]), ("order_created", order2, event2["id"])],
        "restarted listener sends the missed order_created once, and the first one not again")
    shop.stop(listener)
    is_(query(db, "SELECT last_id, done_ids FROM stripe_webhook.order_change_cursors WHERE listener = 'e2e'"),
        [(max(int(g[1]) for g in got) if got else -1, [])], "the cursor stands after the last change")
    # A delivery that cannot be processed (its cart does not exist): an
    # error answer, recorded as failed with its error for the operators.
    event3, payload3 = make_event_for(u1, 999999, "nocart")
    status, reply4, raw = post(port, payload3.encode(), sign(db, payload3, SECRET))
    ok(400 <= status < 500 and isinstance(reply4, dict) and reply4.get("status") == status,
       "checkout for a cart that does not exist: a 4xx answer from the handler", raw[:300])
    is_(query(db, "SELECT status, last_error IS NOT NULL FROM stripe_webhook.events WHERE id = %s", (event3["id"],)),
        [("failed", True)], "recorded as failed, with its error")
    shop.stop(server)

    # Nothing secret in the logs (the 503 above made PostgreSQL log an error
    # for the relay role's statement, which holds the body and signature).
    sig_hex = [p.split("=", 1)[1] for p in header.split(",") if p.startswith("v1=")]
    log_text = shop.log("runserver.log") + shop.log("listen.log")
    ok(SECRET not in log_text and not any(x in log_text for x in sig_hex) and "Townsend" not in log_text,
       "Django's logs hold no secret, signature or body")
    if pglog_start is not None:
        with open(os.environ["SW_PGLOG"], encoding="utf-8", errors="replace") as f:
            f.seek(pglog_start)
            pg_text = f.read()
        ok(SECRET not in pg_text and not any(x in pg_text for x in sig_hex) and "Townsend" not in pg_text,
           "PostgreSQL's log holds no secret, signature or body (not even for the refused call)")

    # Operators' commands.
    st = st_su = shop.manage("postgres", "stripe_webhook_status")
    ok(st.returncode == 0 and "checkout.session.completed" in st.stdout and "processed" in st.stdout
       and "listener e2e" in st.stdout, "stripe_webhook_status shows the events and the listener", st.stdout)
    st = shop.manage(shop.web, "stripe_webhook_status")
    ok(st.returncode != 0 and "permission denied" in st.stdout, "stripe_webhook_status as the web role: refused",
       st.stdout)
    ok("failed checkout.session.completed: 1 event(s); last error on %s" % event3["id"] in st_su.stdout
       and "oldest unprocessed: %s" % event3["id"] in st_su.stdout and "stripe_webhook_replay EVENT_ID" in st_su.stdout,
       "stripe_webhook_status names the failed event, its error and the oldest unprocessed one", st_su.stdout)
    rp = shop.manage("postgres", "stripe_webhook_replay", event3["id"])
    ok(rp.returncode != 0 and '"status": 4' in rp.stdout, "stripe_webhook_replay of the failed event: still refused",
       rp.stdout)
    rp = shop.manage("postgres", "stripe_webhook_replay", "evt_does_not_exist_%d" % os.getpid())
    ok(rp.returncode != 0, "stripe_webhook_replay of an unknown event fails", rp.stdout)
    rp = shop.manage("postgres", "stripe_webhook_replay", event["id"])
    ok(rp.returncode == 0 and '"status": 200' in rp.stdout, "stripe_webhook_replay of a processed event: 200",
       rp.stdout)
    is_(query(db, "SELECT count(*) FROM shop_order WHERE stripe_session_id = %s", (session_id,)), [(1,)],
        "replay: still one order")

    # Broken bindings.
    chk = shop.manage(shop.web, "check", DJANGO_SETTINGS_MODULE="seedsite.settings_broken")
    ok(chk.returncode != 0 and "stripe_webhook_django.E009" in chk.stdout and "products.stock" in chk.stdout,
       "manage.py check reports the broken settings (products.stock on a varchar: E009)", chk.stdout)
    query(db, "ALTER TABLE shop_cart RENAME COLUMN locked TO is_locked")
    chk = shop.manage(shop.web, "check")
    query(db, "ALTER TABLE shop_cart RENAME COLUMN is_locked TO locked")
    ok(chk.returncode != 0 and "stripe_webhook_django.E008" in chk.stdout and "carts.locked" in chk.stdout,
       "manage.py check reports a renamed column (E008)", chk.stdout)
    chk = shop.manage(shop.web, "check")
    ok(chk.returncode == 0, "manage.py check clean again after the rename is undone", chk.stdout)

    # The shop's own test suite (the test database needs a superuser to get
    # the extension).
    tst = shop.manage("postgres", "test", "--no-input", "-v", "2")
    ok(tst.returncode == 0 and "OK" in tst.stdout and "stripe_webhook: bound" in tst.stdout,
       "the shop's own manage.py test passes (test database bound after migrate)", tst.stdout)
    own = shop.manage(shop.web, "test", "stripe_webhook_django", "--no-input")
    ok(own.returncode == 0 and "Ran 10 tests" in own.stdout and "\nOK" in own.stdout,
       "the app's own tests pass in the shop (manage.py test stripe_webhook_django)", own.stdout)
    db.close()
    web.close()


def make_event_for(user, cart, suffix, **kw):
    """A fixture checkout.session.completed for our user and cart."""
    return djshop.make_event(user, cart, suffix, **kw)


if __name__ == "__main__":
    shop = djshop.Shop("shop")
    try:
        main(shop)
    except Exception:
        ok(False, "unexpected exception", traceback.format_exc())
    finally:
        shop.cleanup()
    sys.exit(djshop.finish())
