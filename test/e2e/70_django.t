#!/usr/bin/python3
"""test/e2e/70_django.t: the Django example shop, end to end over real HTTP.

Creates a fresh database on the runner's cluster (PGHOST/PGPORT/PGUSER of a
superuser), installs the extension, the relay role (sql/relay_role.sql) and
the ORM's read-only role (examples/django/grants.sql), adds products, a cart
and a signing secret, starts the example project with Django's development
server (manage.py runserver) on a free loopback port, and POSTs Stripe
events to /api/payments/stripe_webhook/ with http.client:

  - a valid checkout.session.completed creates the order (200);
  - the same delivery again is harmless (200, same order, nothing changes);
  - a tampered body, a missing header, a stale timestamp, invalid UTF-8, a
    NUL byte and an oversized body are rejected (400) and write nothing;
  - Django's ORM (as the read-only role) sees the order, its items, the
    reduced stock and the user's new cart, and cannot write;
  - the webhook's connection (the relay role) cannot read any table.

Events are signed with the SQL function stripe_signature_header(); the
signature is checked independently with Stripe's Python library.  Prints TAP.
Run it with Debian's /usr/bin/python3 (python3-django, python3-psycopg2,
python3-stripe).
"""
import copy
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import psycopg2
import psycopg2.extensions

ROOT = os.environ.get("SW_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DJANGO_DIR = os.path.join(ROOT, "examples", "django")
FIXTURES = os.environ.get("SW_FIXTURES", os.path.join(ROOT, "test", "fixtures"))
PYTHON = "/usr/bin/python3"
WEBHOOK_PATH = "/api/payments/stripe_webhook/"
DBNAME = "sw_django_%d" % os.getpid()
READER_ROLE = "shop_reader"
RELAY_ROLE = os.environ.get("SW_RELAY_ROLE", "stripe_webhook_relay")
SECRET = "whsec_django_e2e_%d_0123456789abcdef" % os.getpid()
USER_ID = "django-user-42"
SHOP_TABLES = ("products", "carts", "cart_items", "orders", "order_items")

_count = 0
_failed = 0


def ok(cond, name, diag=None):
    """Print one TAP result line (and a diagnostic when it failed)."""
    global _count, _failed
    _count += 1
    if cond:
        print("ok %d - %s" % (_count, name))
    else:
        _failed += 1
        print("not ok %d - %s" % (_count, name))
        if diag is not None:
            for line in str(diag).splitlines() or [""]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def is_(got, expected, name):
    """ok() comparing two values, showing both on failure."""
    return ok(got == expected, name, "got:      %r\nexpected: %r" % (got, expected))


def diag(msg):
    """TAP diagnostic line."""
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


def connect(dbname, user=None):
    """Autocommit psycopg2 connection to the runner's cluster."""
    kw = {"dbname": dbname}
    if user:
        kw["user"] = user
    conn = psycopg2.connect(**kw)
    conn.autocommit = True
    return conn


def query(conn, sql, args=None):
    """All rows of one statement."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else []


def psql_file(path):
    """Run a SQL script with psql in the test database (ON_ERROR_STOP)."""
    return subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DBNAME, "-f", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )


def snapshot(conn):
    """Contents of every shop table and the event inbox, as comparable text."""
    snap = {}
    for table in SHOP_TABLES + ("checkout_sessions", "events"):
        rows = query(
            conn,
            "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            "FROM stripe_webhook.%s t" % table,
        )
        snap[table] = rows[0]
    return snap


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(env, logpath):
    """Start manage.py runserver on a free port; (process, port) or (None, None)."""
    for _attempt in range(5):
        port = free_port()
        log = open(logpath, "ab")
        proc = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", "127.0.0.1:%d" % port, "--noreload"],
            cwd=DJANGO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return proc, port
            except OSError:
                time.sleep(0.1)
        stop_server(proc)
    return None, None


def stop_server(proc):
    """Stop the server started above, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def send(port, method, body=b"", headers=None):
    """One real HTTP request; (status, parsed JSON or None, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        hdrs = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        hdrs.update(headers or {})
        conn.request(method, WEBHOOK_PATH, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except ValueError:
            parsed = None
        return resp.status, parsed, raw
    finally:
        conn.close()


def post(port, body, signature):
    """POST a body (bytes) with a Stripe-Signature header (None: no header)."""
    headers = {} if signature is None else {"Stripe-Signature": signature}
    return send(port, "POST", body, headers)


def sign(conn, payload, at_offset=0):
    """Stripe-Signature header for payload, made by the extension's SQL."""
    return query(
        conn,
        "SELECT stripe_webhook.stripe_signature_header(%s, %s, now() + make_interval(secs => %s))",
        (payload, SECRET, at_offset),
    )[0][0]


def make_event(cart_id, suffix):
    """A checkout.session.completed event for our cart, as Stripe would
    send it (pretty-printed JSON, non-ASCII kept as UTF-8)."""
    with open(os.path.join(FIXTURES, "event.checkout.session.completed.paid.json"), encoding="utf-8") as f:
        event = json.load(f)
    event = copy.deepcopy(event)
    event["id"] = "evt_django_e2e_%s_%d" % (suffix, os.getpid())
    event["created"] = int(time.time())
    session = event["data"]["object"]
    session["id"] = "cs_test_django_e2e_%s_%d" % (suffix, os.getpid())
    session["payment_intent"] = "pi_django_e2e_%s_%d" % (suffix, os.getpid())
    session["metadata"] = {"user_id": USER_ID, "cart_id": str(cart_id)}
    session["client_reference_id"] = str(cart_id)
    session["customer_details"]["name"] = "Zoë Müller"
    session["customer_details"]["email"] = "zoe@example.com"
    session["collected_information"]["shipping_details"]["name"] = "Zoë Müller"
    return event, json.dumps(event, indent=2, ensure_ascii=False)


def main():
    pglog = os.environ.get("SW_PGLOG")
    pglog_start = os.path.getsize(pglog) if pglog and os.path.exists(pglog) else None
    admin = connect(os.environ.get("PGDATABASE") or "postgres")
    query(admin, 'CREATE DATABASE "%s"' % DBNAME)
    db = None
    server = None
    logdir = tempfile.mkdtemp(prefix="sw-django.")
    server_log = os.path.join(logdir, "runserver.log")
    try:
        db = connect(DBNAME)
        query(db, "CREATE EXTENSION stripe_webhook")
        r1 = psql_file(os.path.join(ROOT, "sql", "relay_role.sql"))
        r2 = psql_file(os.path.join(DJANGO_DIR, "grants.sql"))
        ok(r1.returncode == 0 and r2.returncode == 0,
           "extension, relay role (sql/relay_role.sql) and read role (grants.sql) installed",
           r1.stdout + r2.stdout)

        # Shop data: two products, a cart holding 2 + 1 of them (55.00 USD,
        # the fixture's amount_subtotal), and the signing secret.
        prod_a = query(db, "INSERT INTO stripe_webhook.products (name, price_amount, currency, stock) "
                           "VALUES ('Mug', 1500, 'usd', 10) RETURNING id")[0][0]
        prod_b = query(db, "INSERT INTO stripe_webhook.products (name, price_amount, currency, stock) "
                           "VALUES ('Teapot', 2500, 'usd', 5) RETURNING id")[0][0]
        cart_id = query(db, "INSERT INTO stripe_webhook.carts (user_id) VALUES (%s) RETURNING id", (USER_ID,))[0][0]
        query(db, "INSERT INTO stripe_webhook.cart_items (cart_id, product_id, quantity) VALUES (%s, %s, 2), (%s, %s, 1)",
              (cart_id, prod_a, cart_id, prod_b))
        query(db, "INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (%s)", (SECRET,))

        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "shopsite.settings",
            "DJANGO_DB_NAME": DBNAME,
            "DJANGO_DB_HOST": os.environ.get("PGHOST", ""),
            "DJANGO_DB_PORT": os.environ.get("PGPORT", ""),
            "DJANGO_DB_USER": READER_ROLE,
            "STRIPE_WEBHOOK_DB_USER": RELAY_ROLE,
            "DJANGO_DEBUG": "0",
            "DJANGO_ENABLE_ADMIN": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        for k in ("PGUSER", "PGPASSWORD", "PGDATABASE"):
            env.pop(k, None)

        chk = subprocess.run([PYTHON, "manage.py", "check", "--fail-level", "WARNING"], cwd=DJANGO_DIR,
                             env=dict(env, DJANGO_ENABLE_ADMIN="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True)
        ok(chk.returncode == 0, "manage.py check passes (models, view, admin)", chk.stdout)

        server, port = start_server(env, server_log)
        if not ok(server is not None, "Django development server listens on a free loopback port"):
            with open(server_log, encoding="utf-8", errors="replace") as f:
                diag(f.read()[-3000:])
            return
        diag("runserver on 127.0.0.1:%d, database %s" % (port, DBNAME))

        status, _, _ = send(port, "GET")
        is_(status, 405, "GET on the webhook URL: 405 (POST only)")

        event, payload = make_event(cart_id, "paid")
        session_id = event["data"]["object"]["id"]
        body = payload.encode("utf-8")
        header = sign(db, payload)
        try:
            import stripe
            verified = stripe.WebhookSignature.verify_header(payload, header, SECRET, tolerance=300)
            ok(verified is True, "header from stripe_signature_header() verifies with Stripe's Python library")
        except Exception as exc:  # SignatureVerificationError or import error
            ok(False, "header from stripe_signature_header() verifies with Stripe's Python library", repr(exc))

        # Rejections before the first delivery: nothing may be written.
        before = snapshot(db)
        # (name, body, header, body_changed)
        cases = [
            ("tampered body (amount changed)", body.replace(b'"amount_total": 6000', b'"amount_total": 1'), header, True),
            ("tampered body (one space added)", body + b" ", header, True),
            ("missing Stripe-Signature header", body, None, False),
            ("empty Stripe-Signature header", body, "", False),
            ("signature from another secret", body,
             query(db, "SELECT stripe_webhook.stripe_signature_header(%s, 'whsec_other', now())", (payload,))[0][0], False),
            ("timestamp one hour old", body, sign(db, payload, -3600), False),
            ("invalid UTF-8 in the body", body.replace("Zoë".encode("utf-8"), b"Zo\xeb"), header, True),
            ("NUL byte in the body", body[:20] + b"\x00" + body[20:], header, True),
        ]
        for name, b, h, changed in cases:
            if changed and b == body:
                ok(False, "%s: the test body differs from the signed one" % name)
                continue
            status, reply, raw = post(port, b, h)
            ok(status == 400 and isinstance(reply, dict) and reply.get("status") == 400
               and isinstance(reply.get("message"), str) and reply.get("message") != "",
               "%s: 400 with a JSON status and message" % name, raw[:300])
            is_(snapshot(db), before, "%s: nothing written" % name)
        status, reply, raw = post(port, b'{"pad": "' + b"x" * 3000000 + b'"}', header)
        is_(status, 400, "3 MB body: 400 (DATA_UPLOAD_MAX_MEMORY_SIZE)")
        is_(snapshot(db), before, "3 MB body: nothing written")

        # The database refuses the call (here: EXECUTE revoked from the
        # relay role): 503, so that Stripe retries; nothing written.
        query(db, "REVOKE EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) FROM %s" % RELAY_ROLE)
        status, reply, raw = post(port, body, header)
        query(db, "GRANT EXECUTE ON FUNCTION stripe_webhook.stripe_handle_webhook(text, text) TO %s" % RELAY_ROLE)
        is_(status, 503, "database error (EXECUTE revoked): 503 so that Stripe retries")
        is_(snapshot(db), before, "database error: nothing written")

        # The valid delivery.
        status, reply, raw = post(port, body, header)
        is_(status, 200, "valid checkout.session.completed: HTTP 200")
        ok(isinstance(reply, dict) and reply.get("status") == 200 and reply.get("message"),
           "reply carries the handler's status and message", raw[:300])
        orders = query(db, "SELECT id::text FROM stripe_webhook.orders WHERE checkout_session_id = %s", (session_id,))
        is_(len(orders), 1, "exactly one order for the session")
        order_id = orders[0][0] if orders else None
        is_(reply.get("order_id") if isinstance(reply, dict) else None, order_id, "reply names the order")
        is_(reply.get("event_id") if isinstance(reply, dict) else None, event["id"], "reply names the event")

        # Duplicate delivery (Stripe retries): harmless.
        after_first = snapshot(db)
        status, reply2, raw = post(port, body, header)
        is_(status, 200, "duplicate delivery: HTTP 200")
        is_((reply2.get("message"), reply2.get("order_id")) if isinstance(reply2, dict) else None,
            ("already processed", order_id), "duplicate delivery: 'already processed', same order")
        shop_only = lambda s: {k: v for k, v in s.items() if k != "events"}
        is_(shop_only(snapshot(db)), shop_only(after_first), "duplicate delivery: shop tables unchanged")
        is_(query(db, "SELECT count(*) FROM stripe_webhook.orders WHERE checkout_session_id = %s", (session_id,))[0][0],
            1, "duplicate delivery: still one order")
        # The same delivery tampered after the first success: still rejected.
        status, _, _ = post(port, body.replace(b'"paid"', b'"unpaid"'), header)
        is_(status, 400, "tampered replay after success: 400")
        is_(snapshot(db)["orders"], after_first["orders"], "tampered replay: orders unchanged")

        # An event type the extension does not handle: 200, shop unchanged.
        other = {"id": "evt_django_e2e_other_%d" % os.getpid(), "object": "event", "api_version": event["api_version"],
                 "created": int(time.time()), "livemode": False, "type": "customer.created",
                 "data": {"object": {"id": "cus_django_e2e", "object": "customer"}}}
        other_payload = json.dumps(other, indent=2)
        status, reply, raw = post(port, other_payload.encode(), sign(db, other_payload))
        is_(status, 200, "customer.created (not handled): 200")
        is_(shop_only(snapshot(db)), shop_only(after_first), "customer.created: shop tables unchanged")
        is_(query(db, "SELECT status FROM stripe_webhook.events WHERE id = %s", (other["id"],)), [("ignored",)],
            "customer.created: recorded as ignored")

        # The ORM, as the read-only role, sees the result.
        stop_server(server)
        server = None
        orm_checks(env, order_id, session_id, cart_id, prod_a, prod_b)

        # Nothing secret in the logs.
        with open(server_log, encoding="utf-8", errors="replace") as f:
            log_text = f.read()
        sig_hex = [p.split("=", 1)[1] for p in header.split(",") if p.startswith("v1=")]
        ok(SECRET not in log_text and not any(s in log_text for s in sig_hex) and "Townsend" not in log_text,
           "Django's log holds no secret, signature or body")
        if pglog_start is not None:
            with open(pglog, encoding="utf-8", errors="replace") as f:
                f.seek(pglog_start)
                pg_text = f.read()
            ok(SECRET not in pg_text and not any(s in pg_text for s in sig_hex) and "Townsend" not in pg_text,
               "PostgreSQL's log holds no secret, signature or body (not even for the failed call)")
    finally:
        stop_server(server)
        if _failed:
            diag("runserver log kept: %s" % server_log)
        else:
            shutil.rmtree(logdir, ignore_errors=True)
        if db is not None:
            db.close()
        query(admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DBNAME)
        # The read role has no other use in the cluster; the relay role is
        # sql/relay_role.sql's and stays.
        try:
            query(admin, "DROP ROLE IF EXISTS %s" % READER_ROLE)
        except psycopg2.Error:
            pass
        admin.close()


def orm_checks(env, order_id, session_id, cart_id, prod_a, prod_b):
    """Read the outcome through Django's ORM (models over stripe_webhook)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("DJANGO_", "STRIPE_WEBHOOK_"))})
    for k in ("PGUSER", "PGPASSWORD", "PGDATABASE"):
        os.environ.pop(k, None)
    sys.path.insert(0, DJANGO_DIR)
    import django

    django.setup()
    from django.db import DatabaseError, connections, transaction

    from shop.models import Cart, CartItem, Order, OrderItem, Product

    order = Order.objects.get(checkout_session_id=session_id)
    is_(str(order.pk), order_id, "ORM: Order found by checkout_session_id")
    is_((order.status, order.payment_status), ("confirmed", "paid"), "ORM: order confirmed and paid")
    is_((order.user_id, order.cart_id), (USER_ID, cart_id), "ORM: order belongs to the user's cart")
    is_((order.amount_subtotal, order.amount_total, order.currency), (5500, 6000, "usd"), "ORM: amounts and currency")
    is_((order.shipping_name, order.shipping_city, order.shipping_country), ("Zoë Müller", "San Francisco", "US"),
        "ORM: shipping address (UTF-8 intact)")
    items = sorted((i.product.name, i.quantity, i.unit_amount) for i in order.items.select_related("product"))
    is_(items, [("Mug", 2, 1500), ("Teapot", 1, 2500)], "ORM: order items equal the cart's items")
    is_(sum(i.quantity * i.unit_amount for i in OrderItem.objects.filter(order=order)), order.amount_subtotal,
        "ORM: items add up to amount_subtotal")
    is_(dict(Product.objects.filter(pk__in=[prod_a, prod_b]).values_list("name", "stock")), {"Mug": 8, "Teapot": 4},
        "ORM: stock reduced by the quantities bought")
    old = Cart.objects.get(pk=cart_id)
    ok(old.locked, "ORM: the paid cart is locked")
    active = list(Cart.objects.filter(user_id=USER_ID, locked=False))
    ok(len(active) == 1 and active[0].pk != cart_id and not CartItem.objects.filter(cart=active[0]).exists(),
       "ORM: the user has one new, empty, unlocked cart", [(c.pk, c.locked) for c in active])

    # Least privilege: the ORM's role reads but cannot write ...
    try:
        with transaction.atomic():
            Product.objects.filter(pk=prod_a).update(stock=1000)
        ok(False, "ORM role cannot change stock")
    except DatabaseError as exc:
        is_(getattr(exc.__cause__, "pgcode", None), "42501", "ORM role cannot change stock (42501)")
    # ... and the webhook's role cannot read any table.
    for table in ("orders", "products", "signing_secrets", "events"):
        try:
            with connections["stripe_webhook"].cursor() as cur:
                cur.execute("SELECT count(*) FROM stripe_webhook.%s" % table)
            ok(False, "webhook role cannot read stripe_webhook.%s" % table)
        except DatabaseError as exc:
            is_(getattr(exc.__cause__, "pgcode", None), "42501", "webhook role cannot read stripe_webhook.%s (42501)" % table)
    connections.close_all()


if __name__ == "__main__":
    try:
        main()
    except Exception:
        ok(False, "unexpected exception", traceback.format_exc())
    print("1..%d" % _count)
    sys.exit(1 if _failed else 0)
