"""The app's own tests: `manage.py test stripe_webhook_django` in a project
that installed it.  They need no database (the binding document is derived
from models defined here; the view's refusals happen before any query).
The database side is covered by the repository's end-to-end tests."""
import json
import uuid
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.test import RequestFactory, SimpleTestCase
from django.test.utils import isolate_apps

from . import binding
from .conf import Config
from .views import stripe_webhook

RAW = {
    "PRODUCT": "stripe_webhook_django.Product",
    "CART": "stripe_webhook_django.Cart",
    "CART_ITEM": "stripe_webhook_django.CartItem",
    "ORDER": "stripe_webhook_django.Order",
    "ORDER_ITEM": "stripe_webhook_django.OrderItem",
    "CURRENCY": "eur",
}


def define_models():
    """A shop shaped like many: uuid order ids, Decimal money, Python-side
    defaults, a column name that differs from the field name."""

    class Product(models.Model):
        name = models.CharField(max_length=100)
        price = models.DecimalField(max_digits=10, decimal_places=2)
        stock = models.IntegerField(default=0, db_column="stock_qty")

        class Meta:
            app_label = "stripe_webhook_django"
            db_table = "shop_product"

    class Cart(models.Model):
        user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        locked = models.BooleanField(default=False)
        created_at = models.DateTimeField(auto_now_add=True)

        class Meta:
            app_label = "stripe_webhook_django"

    class CartItem(models.Model):
        cart = models.ForeignKey(Cart, on_delete=models.CASCADE)
        product = models.ForeignKey(Product, on_delete=models.CASCADE)
        quantity = models.PositiveIntegerField(default=1)

        class Meta:
            app_label = "stripe_webhook_django"

    class Order(models.Model):
        id = models.UUIDField(primary_key=True, default=uuid.uuid4)
        user = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        status = models.CharField(max_length=20, default="pending")
        stripe_session_id = models.CharField(max_length=255, default="")
        total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
        notes = models.TextField(default="")
        gift = models.BooleanField(default=False)
        discount = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1.50"))
        tracking = models.CharField(max_length=50, null=True)
        token = models.UUIDField(default=uuid.uuid4)
        placed_at = models.DateTimeField(auto_now_add=True)

        class Meta:
            app_label = "stripe_webhook_django"

    class OrderItem(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE)
        product = models.ForeignKey(Product, on_delete=models.PROTECT)
        quantity = models.PositiveIntegerField()
        price = models.DecimalField(max_digits=10, decimal_places=2)

        class Meta:
            app_label = "stripe_webhook_django"


@isolate_apps("stripe_webhook_django", "django.contrib.auth", "django.contrib.contenttypes", attr_name="apps")
class BindingDocumentTests(SimpleTestCase):
    """binding.build(): the document from the models' metadata."""

    def build(self, **raw):
        define_models()
        return binding.build(Config(dict(RAW, **raw)), self.apps)

    def test_tables_and_columns_come_from_the_models(self):
        doc, _ = self.build()
        self.assertEqual(doc["products"], {"table": "shop_product",
                                           "columns": {"id": "id", "price": "price", "stock": "stock_qty"}})
        self.assertEqual(doc["carts"]["columns"], {"id": "id", "user": "user_id", "locked": "locked",
                                                   "created_at": "created_at"})
        self.assertEqual(doc["cart_items"]["columns"], {"cart": "cart_id", "product": "product_id",
                                                        "quantity": "quantity"})
        self.assertEqual(doc["order_items"]["columns"], {"order": "order_id", "product": "product_id",
                                                         "quantity": "quantity", "unit_price": "price"})
        self.assertEqual(doc["orders"]["table"], "stripe_webhook_django_order")
        self.assertEqual(doc["orders"]["columns"], {"id": "id", "user": "user_id", "status": "status",
                                                    "checkout_session": "stripe_session_id",
                                                    "amount_total": "total"})
        self.assertEqual(doc["currency"], "eur")

    def test_python_defaults_become_values_or_database_defaults(self):
        doc, db_defaults = self.build()
        # constants for NOT NULL unmapped columns; nullable and callable ones not
        self.assertEqual(doc["orders"]["values"], {"notes": "", "gift": False, "discount": "1.50"})
        self.assertEqual(sorted(db_defaults), [
            ("stripe_webhook_django_order", "id", "pg_catalog.gen_random_uuid()"),
            ("stripe_webhook_django_order", "placed_at", "pg_catalog.now()"),
            ("stripe_webhook_django_order", "token", "pg_catalog.gen_random_uuid()"),
        ])
        self.assertNotIn("values", doc["products"])  # never inserted by the fulfilment
        self.assertEqual(doc["cart_items"]["values"], {})

    def test_fields_override_and_unbind(self):
        doc, _ = self.build(FIELDS={"orders.checkout_session": None, "orders.amount_total": "discount",
                                          "orders.created_at": "placed_at"})
        cols = doc["orders"]["columns"]
        self.assertNotIn("checkout_session", cols)
        self.assertEqual((cols["amount_total"], cols["created_at"]), ("discount", "placed_at"))
        # the unbound stripe_session_id now needs a constant; total too
        self.assertEqual(doc["orders"]["values"]["stripe_session_id"], "")
        self.assertEqual(doc["orders"]["values"]["total"], 0)

    def test_status_values_are_filled_with_defaults(self):
        doc, _ = self.build(STATUS_VALUES={"unpaid": "pending", "confirmed": "processing"})
        self.assertEqual(doc["status_values"], {
            "pending": "pending", "confirmed": "processing", "needs_review": "needs_review",
            "cancelled": "cancelled", "refunded": "refunded", "unpaid": "pending", "paid": "paid",
            "failed": "failed"})

    def test_wrong_settings_are_refused(self):
        define_models()
        for raw, message in (
                (dict(RAW, FIELDS={"orders.colour": "x"}), "not \"<role>.<logical name>\""),
                (dict(RAW, FIELDS={"orders.status": "no_such_field"}), "has no such field"),
                (dict(RAW, ORDER="Order"), "app_label.ModelName"),
                (dict(RAW, STATUS_VALUES={"shipped": "x"}), "STATUS_VALUES"),
                (dict(RAW, DATABASE="nowhere"), "not in settings.DATABASES"),
                (dict(RAW, SURPRISE=1), "unknown keys")):
            with self.subTest(message=message):
                with self.assertRaisesMessage(ImproperlyConfigured, message):
                    binding.build(Config(raw), self.apps)

    def test_sql_script_is_what_a_superuser_runs(self):
        from django.db import connection

        doc, db_defaults = self.build()
        script = binding.sql_script(doc, db_defaults, connection, Config(RAW))
        self.assertIn("CREATE EXTENSION IF NOT EXISTS stripe_webhook;", script)
        self.assertIn('ALTER TABLE "stripe_webhook_django_order" ALTER COLUMN "id" SET DEFAULT '
                      "pg_catalog.gen_random_uuid();", script)
        document = script.split("$binding$")[1]
        self.assertEqual(json.loads(document), doc)


class ViewRefusalTests(SimpleTestCase):
    """The view's answers that need no database."""

    def setUp(self):
        self.factory = RequestFactory()

    def test_get_is_405(self):
        self.assertEqual(stripe_webhook(self.factory.get("/")).status_code, 405)

    def test_invalid_utf8_is_400(self):
        request = self.factory.post("/", data=b'{"a": "Zo\xeb"}', content_type="application/json",
                                    HTTP_STRIPE_SIGNATURE="t=1,v1=00")
        response = stripe_webhook(request)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(json.loads(response.content), {"status": 400, "message": "request body is not valid UTF-8"})

    def test_nul_is_400(self):
        request = self.factory.post("/", data=b'{"a": "\x00"}', content_type="application/json",
                                    HTTP_STRIPE_SIGNATURE="t=1,v1=00")
        self.assertEqual(stripe_webhook(request).status_code, 400)

    def test_csrf_exempt_and_not_atomic(self):
        self.assertTrue(getattr(stripe_webhook, "csrf_exempt", False))
        self.assertIn("default", stripe_webhook._non_atomic_requests)
