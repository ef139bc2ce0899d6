"""test/lib/djshop.py: helpers for the test/e2e/7x_django_*.t files.

They adopt the extension into an outside Django project, the existing shop
(SW_EXISTING_SHOP, default /work/shared/existing-shop), the way its team
would: copy it to a scratch folder (its models and migrations stay as they
are), install django-stripe-webhook into a virtualenv with pip, add a
settings module, a URLconf and a small app of signal receivers, migrate.
Each test gets its own database on the runner's cluster (PGHOST/PGPORT of a
superuser) and its own login roles.
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

import psycopg2

ROOT = os.environ.get("SW_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP_DIR = os.path.join(ROOT, "django-stripe-webhook")
# shared/ beside the checkout (as CI lays it out), else the workplace's
SHARED = os.path.join(os.path.dirname(os.path.abspath(ROOT)), "shared")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared"
SHOP_SRC = os.environ.get("SW_EXISTING_SHOP", os.path.join(SHARED, "existing-shop"))
FIXTURES = os.environ.get("SW_FIXTURES", os.path.join(SHARED, "fixtures"))
if not os.path.isdir(FIXTURES):
    FIXTURES = os.path.join(ROOT, "test", "fixtures")
PYTHON = "/usr/bin/python3"

_count = 0
_failed = 0


def ok(cond, name, diag_text=None):
    """Print one TAP result line (and a diagnostic when it failed)."""
    global _count, _failed
    _count += 1
    if cond:
        print("ok %d - %s" % (_count, name))
    else:
        _failed += 1
        print("not ok %d - %s" % (_count, name))
        if diag_text is not None:
            for line in str(diag_text).splitlines()[-40:] or [""]:
                print("#   " + line)
    sys.stdout.flush()
    return bool(cond)


def is_(got, expected, name):
    """ok() comparing two values, showing both on failure."""
    return ok(got == expected, name, "got:      %r\nexpected: %r" % (got, expected))


def diag(msg):
    """TAP diagnostic lines."""
    for line in str(msg).splitlines():
        print("# " + line)
    sys.stdout.flush()


def finish():
    """Print the plan and return the exit status."""
    print("1..%d" % _count)
    return 1 if _failed else 0


def failed():
    """How many tests failed so far."""
    return _failed


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


def sqlstate_of(conn, sql, args=None):
    """Run a statement in a transaction that is rolled back; return None
    when it worked, else the SQLSTATE of its error."""
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
        return None
    except psycopg2.Error as exc:
        return exc.pgcode
    finally:
        conn.rollback()
        conn.autocommit = True


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SETTINGS = '''
"""Settings of the shop with stripe_webhook_django (added by the test)."""
import os

from .settings import *  # noqa: F401,F403

INSTALLED_APPS = INSTALLED_APPS + ["stripe_webhook_django", "shophooks"]
ROOT_URLCONF = "seedsite.urls_sw"

# Many shops wrap each request in a transaction; the webhook view opts out.
DATABASES["default"]["ATOMIC_REQUESTS"] = True

# The webhook view's own connection: the role that may only call the handler.
DATABASES["stripe_webhook"] = dict(DATABASES["default"], USER=os.environ.get("SW_RELAY_USER", "stripe_webhook_relay"),
                                   TEST={"MIRROR": "default"})

STRIPE_WEBHOOK = {
    "PRODUCT": "shop.Product",
    "CART": "shop.Cart",
    "CART_ITEM": "shop.CartItem",
    "ORDER": "shop.Order",
    "ORDER_ITEM": "shop.OrderItem",
    "FIELDS": {
        "orders.checkout_session": "stripe_session_id",
        "orders.amount_total": "total",
        "carts.locked": "locked",
        "products.stock": "stock",
    },
    # the shop's payment words: "pending" is Stripe's "unpaid"
    "STATUS_VALUES": {"unpaid": "pending"},
    "CURRENCY": "usd",
    "DATABASE": "default",
    "WEBHOOK_DATABASE": "stripe_webhook",
    "BIND_AFTER_MIGRATE": os.environ.get("SW_BIND_AFTER_MIGRATE", "1") == "1",
}
LOGGING["loggers"]["stripe_webhook_django"] = {"handlers": ["console"], "level": "INFO", "propagate": False}
'''

BROKEN_SETTINGS = '''
from .settings_sw import *  # noqa: F401,F403

# deliberately broken: "stock" bound to the product's name (varchar)
STRIPE_WEBHOOK = dict(STRIPE_WEBHOOK, FIELDS=dict(STRIPE_WEBHOOK["FIELDS"], **{"products.stock": "name"}))
'''

URLS = '''
from django.urls import include, path

urlpatterns = [
    path("api/payments/stripe_webhook/", include("stripe_webhook_django.urls")),
]
'''

HOOKS_INIT = ""

BIND_MIGRATION = '''
from django.db import migrations

from stripe_webhook_django.operations import BindShop


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_careful_hardening")]
    operations = [BindShop()]
'''

HOOKS_APPS = '''
"""Receivers of the stripe_webhook_django signals: one line per signal in
the file named by SW_SIGNAL_LOG (the test reads it).  SW_SIGNAL_SLEEP makes
each receiver slow; SW_SIGNAL_FAIL_ONCE makes the first call raise."""
import os
import time

from django.apps import AppConfig


def record(signal_name):
    def receiver(sender, order, stripe_event_id, change, **kwargs):
        fail = os.environ.get("SW_SIGNAL_FAIL_ONCE")
        if fail and not os.path.exists(fail):
            open(fail, "w").close()
            raise RuntimeError("receiver failing once on purpose")
        delay = float(os.environ.get("SW_SIGNAL_SLEEP") or 0)
        if delay:
            time.sleep(delay)
        path = os.environ.get("SW_SIGNAL_LOG")
        if path:
            line = "%s %s %s %s %s %s\\n" % (signal_name, change["id"], order.pk, stripe_event_id,
                                             order.status, sender.__name__)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
    return receiver


class ShopHooksConfig(AppConfig):
    name = "shophooks"

    def ready(self):
        from stripe_webhook_django import signals

        for name in ("order_created", "order_cancelled", "order_needs_review", "order_refunded"):
            getattr(signals, name).connect(record(name), dispatch_uid="shophooks." + name, weak=False)
'''

SHOP_TESTS = '''
"""The shop's own test of its checkout webhook, through Django's test
client, against the test database (which gets the extension and the binding
from stripe_webhook_django after migrate)."""
import json
import os
import time
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connections
from django.test import TransactionTestCase

from shop.models import Cart, CartItem, Order, Product

SECRET = "whsec_shop_own_test_0123456789abcdef"


class CheckoutWebhookTest(TransactionTestCase):
    databases = {"default", "stripe_webhook"}

    def setUp(self):
        with connections["default"].cursor() as cur:
            cur.execute("DELETE FROM stripe_webhook.signing_secrets")
            cur.execute("INSERT INTO stripe_webhook.signing_secrets (secret) VALUES (%s)", [SECRET])

    def sign(self, payload):
        with connections["default"].cursor() as cur:
            cur.execute("SELECT stripe_webhook.stripe_signature_header(%s, %s, now())", [payload, SECRET])
            return cur.fetchone()[0]

    def event(self, user, cart):
        with open(os.path.join(os.environ["SW_FIXTURES"], "event.checkout.session.completed.paid.json")) as f:
            event = json.load(f)
        suffix = "%d_%d" % (os.getpid(), cart.pk)
        event["id"] = "evt_shoptest_" + suffix
        event["created"] = int(time.time())
        session = event["data"]["object"]
        session["id"] = "cs_test_shoptest_" + suffix
        session["payment_intent"] = "pi_shoptest_" + suffix
        session["metadata"] = {"user_id": str(user.pk), "cart_id": str(cart.pk)}
        session["client_reference_id"] = str(cart.pk)
        return event, json.dumps(event, indent=2)

    def test_paid_checkout_creates_the_order(self):
        user = User.objects.create_user("buyer")
        mug = Product.objects.create(name="Mug", price=Decimal("15.00"), stock=10)
        pot = Product.objects.create(name="Teapot", price=Decimal("25.00"), stock=5)
        cart = Cart.objects.create(user=user)
        CartItem.objects.create(cart=cart, product=mug, quantity=2)
        CartItem.objects.create(cart=cart, product=pot, quantity=1)
        event, payload = self.event(user, cart)
        response = self.client.post("/api/payments/stripe_webhook/", payload, content_type="application/json",
                                    HTTP_STRIPE_SIGNATURE=self.sign(payload))
        self.assertEqual(response.status_code, 200, response.content)
        order = Order.objects.get(stripe_session_id=event["data"]["object"]["id"])
        self.assertEqual(str(order.pk), response.json()["order_id"])
        self.assertEqual((order.user, order.cart, order.payment_status), (user, cart, "paid"))
        self.assertEqual(order.total, Decimal("60.00"))
        self.assertEqual(sorted((i.product.name, i.quantity, i.price) for i in order.items.all()),
                         [("Mug", 2, Decimal("15.00")), ("Teapot", 1, Decimal("25.00"))])
        self.assertEqual([p.stock for p in Product.objects.order_by("pk")], [8, 4])
        cart.refresh_from_db()
        self.assertTrue(cart.locked)
        self.assertEqual(Cart.objects.filter(user=user, locked=False).count(), 1)

    def test_forged_signature_is_refused_and_writes_nothing(self):
        user = User.objects.create_user("forger")
        cart = Cart.objects.create(user=user)
        event, payload = self.event(user, cart)
        response = self.client.post("/api/payments/stripe_webhook/", payload, content_type="application/json",
                                    HTTP_STRIPE_SIGNATURE="t=%d,v1=%s" % (time.time(), "0" * 64))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Order.objects.exists())
        cart.refresh_from_db()
        self.assertFalse(cart.locked)
'''


class Shop:
    """A scratch copy of the existing shop with the app installed."""

    def __init__(self, tag):
        self.tag = "%s_%d" % (tag, os.getpid())
        self.dbname = "sw_dj_%s" % self.tag
        self.owner = "swdj_owner_%s" % self.tag
        self.web = "swdj_web_%s" % self.tag
        self.relay = "stripe_webhook_relay"
        self.dir = tempfile.mkdtemp(prefix="sw-djshop.")
        self.shop = os.path.join(self.dir, "shop")
        self.venv = os.path.join(self.dir, "venv")
        self.python = os.path.join(self.venv, "bin", "python")
        self.signal_log = os.path.join(self.dir, "signals.log")
        self.procs = []
        self.admin = connect(os.environ.get("PGDATABASE") or "postgres")

    # -- setup -----------------------------------------------------------

    def install(self, bind_migration=False):
        """venv + pip install of the app; scratch copy of the shop with the
        test's settings, URLconf and receivers app (with a migration that
        binds, if asked).  Returns pip's result."""
        shutil.copytree(SHOP_SRC, self.shop, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(os.path.join(self.shop, "seedsite", "settings_sw.py"), "w") as f:
            f.write(SETTINGS)
        with open(os.path.join(self.shop, "seedsite", "settings_broken.py"), "w") as f:
            f.write(BROKEN_SETTINGS)
        with open(os.path.join(self.shop, "seedsite", "urls_sw.py"), "w") as f:
            f.write(URLS)
        os.mkdir(os.path.join(self.shop, "shophooks"))
        for name, text in (("__init__.py", HOOKS_INIT), ("apps.py", HOOKS_APPS), ("tests.py", SHOP_TESTS)):
            with open(os.path.join(self.shop, "shophooks", name), "w") as f:
                f.write(text)
        if bind_migration:
            os.mkdir(os.path.join(self.shop, "shophooks", "migrations"))
            for name, text in (("__init__.py", ""), ("0001_bind.py", BIND_MIGRATION)):
                with open(os.path.join(self.shop, "shophooks", "migrations", name), "w") as f:
                    f.write(text)
        subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", self.venv], check=True)
        # pip builds in a copy: the source folder stays clean
        src = os.path.join(self.dir, "django-stripe-webhook")
        shutil.copytree(APP_DIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        return subprocess.run([self.python, "-m", "pip", "install", "--no-index", "--no-build-isolation",
                               "--no-deps", "--disable-pip-version-check", "-q", src],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)

    def create_database(self):
        """Roles of the three kinds and a database owned by the owner role."""
        for role in (self.owner, self.web):
            query(self.admin, 'DROP ROLE IF EXISTS "%s"' % role)
            query(self.admin, 'CREATE ROLE "%s" LOGIN' % role)
        query(self.admin, 'CREATE DATABASE "%s" OWNER "%s"' % (self.dbname, self.owner))
        # the migration role may create the test database of `manage.py test`
        query(self.admin, 'ALTER ROLE "%s" CREATEDB' % self.owner)

    def env(self, user, **extra):
        """Environment for manage.py as a database role."""
        env = dict(os.environ)
        for k in ("PGUSER", "PGPASSWORD", "PGDATABASE", "PYTHONPATH"):
            env.pop(k, None)
        env.update({
            "DJANGO_SETTINGS_MODULE": "seedsite.settings_sw",
            "DB_NAME": self.dbname,
            "DB_HOST": os.environ.get("PGHOST", ""),
            "DB_PORT": os.environ.get("PGPORT", ""),
            "DB_USER": user,
            "DB_CONN_MAX_AGE": "0",
            "SW_RELAY_USER": self.relay,
            "SW_SIGNAL_LOG": self.signal_log,
            "SW_FIXTURES": FIXTURES,
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.update(extra)
        return env

    def manage(self, user, *args, stdin=None, timeout=600, **extra):
        """Run manage.py in the scratch shop; CompletedProcess (output merged)."""
        return subprocess.run([self.python, "manage.py"] + list(args), cwd=self.shop, env=self.env(user, **extra),
                              input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=timeout)

    def psql(self, user, path=None, sql=None, variables=None):
        """psql as `user` in the shop database (ON_ERROR_STOP)."""
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dbname, "-U", user]
        for k, v in (variables or {}).items():
            cmd += ["-v", "%s=%s" % (k, v)]
        cmd += ["-f", path] if path else ["-f", "-"]
        return subprocess.run(cmd, input=sql, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)

    # -- processes -------------------------------------------------------

    def start(self, user, args, logname, **extra):
        """Start manage.py ARGS in the background (own session); the process."""
        log = open(os.path.join(self.dir, logname), "ab")
        proc = subprocess.Popen([self.python, "manage.py"] + list(args), cwd=self.shop, env=self.env(user, **extra),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start_server(self, user):
        """runserver on a free loopback port; (process, port) or (None, None)."""
        for _attempt in range(5):
            port = free_port()
            proc = self.start(user, ["runserver", "127.0.0.1:%d" % port, "--noreload"], "runserver.log")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    return proc, port
                except OSError:
                    time.sleep(0.1)
            self.stop(proc)
        return None, None

    def stop(self, proc, sig=signal.SIGTERM):
        """Stop a process started above, by its PID."""
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log(self, name):
        """Contents of a log file of the scratch folder."""
        try:
            with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def signals(self):
        """Lines the receivers wrote, split into fields."""
        try:
            with open(self.signal_log) as f:
                return [line.split() for line in f if line.strip()]
        except OSError:
            return []

    def wait_signals(self, n, timeout=20):
        """Wait until at least n signal lines exist; the lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.signals()
            if len(got) >= n:
                return got
            time.sleep(0.1)
        return self.signals()

    def cleanup(self):
        """Stop every process, drop the database and the roles, remove the
        scratch folder (kept when something failed)."""
        for proc in self.procs:
            self.stop(proc)
        try:
            query(self.admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.dbname)
            query(self.admin, 'DROP DATABASE IF EXISTS "test_%s" WITH (FORCE)' % self.dbname)
            for role in (self.web, self.owner):
                query(self.admin, 'DROP ROLE IF EXISTS "%s"' % role)
        except psycopg2.Error as exc:
            diag("cleanup: %s" % exc)
        self.admin.close()
        if _failed:
            diag("scratch folder kept: %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def load_event(name="event.checkout.session.completed.paid.json"):
    """A fixture event (dict)."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


def make_event(user_id, cart_id, suffix, amount_subtotal=5500, amount_total=6000):
    """(event, payload): a checkout.session.completed for our cart, as
    Stripe sends it (pretty-printed JSON, non-ASCII kept as UTF-8)."""
    event = copy.deepcopy(load_event())
    tag = "%s_%d" % (suffix, os.getpid())
    event["id"] = "evt_djshop_%s" % tag
    event["created"] = int(time.time())
    session = event["data"]["object"]
    session["id"] = "cs_test_djshop_%s" % tag
    session["payment_intent"] = "pi_djshop_%s" % tag
    session["amount_subtotal"] = amount_subtotal
    session["amount_total"] = amount_total
    session["metadata"] = {"user_id": str(user_id), "cart_id": str(cart_id)}
    session["client_reference_id"] = str(cart_id)
    session["customer_details"]["name"] = "Zoë Müller"
    session["collected_information"]["shipping_details"]["name"] = "Zoë Müller"
    return event, json.dumps(event, indent=2, ensure_ascii=False)


def sign(conn, payload, secret, at_offset=0):
    """Stripe-Signature header for payload, made by the extension's SQL."""
    return query(conn, "SELECT stripe_webhook.stripe_signature_header(%s, %s, now() + make_interval(secs => %s))",
                 (payload, secret, at_offset))[0][0]


def post(port, body, signature, method="POST", path="/api/payments/stripe_webhook/"):
    """One real HTTP request; (status, parsed JSON or None, raw body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except ValueError:
            parsed = None
        return resp.status, parsed, raw
    finally:
        conn.close()
