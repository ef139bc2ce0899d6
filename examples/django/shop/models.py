"""Unmanaged Django models over the stripe_webhook extension's shop tables.

The extension owns these tables (CREATE EXTENSION stripe_webhook creates
them in schema stripe_webhook); Django only reads them: managed = False, so
makemigrations/migrate never create, alter or drop them, and orders, stock
and carts change only through the extension's functions (the webhook).

Each db_table is schema-qualified in PostgreSQL's own quoting,
'"stripe_webhook"."orders"': Django leaves a name that is already quoted
as it is, so the SQL reads FROM "stripe_webhook"."orders" whatever the
connection's search_path.  (Alternative: db_table = "orders" plus
OPTIONS = {"options": "-c search_path=stripe_webhook,public"} in settings.)
"""
from django.db import models


def _table(name):
    """Schema-qualified, pre-quoted table name in schema stripe_webhook."""
    return '"stripe_webhook"."%s"' % name


class Product(models.Model):
    """stripe_webhook.products: what the shop sells; stock is decremented
    by the fulfilment of each paid order."""

    id = models.BigAutoField(primary_key=True)
    name = models.TextField()
    price_amount = models.BigIntegerField(help_text="unit price in the currency's minor unit (cents)")
    currency = models.TextField()
    stock = models.IntegerField()

    class Meta:
        managed = False
        db_table = _table("products")
        ordering = ["id"]

    def __str__(self):
        return self.name


class Cart(models.Model):
    """stripe_webhook.carts: a user's cart; locked once paid (the user then
    gets a new, unlocked cart)."""

    id = models.BigAutoField(primary_key=True)
    user_id = models.TextField()
    locked = models.BooleanField()
    locked_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = _table("carts")
        ordering = ["id"]

    def __str__(self):
        return "cart %s of %s%s" % (self.pk, self.user_id, " (locked)" if self.locked else "")


class CartItem(models.Model):
    """stripe_webhook.cart_items: one product line of a cart.

    The table's key is (cart_id, product_id); Django 3.2 has no composite
    keys, so the row's ctid-free stand-in is cart_id declared as the
    "primary key".  Query items through a cart (cart.items.all()); do not
    rely on CartItem identity (two lines of one cart compare equal)."""

    cart = models.ForeignKey(Cart, models.DO_NOTHING, db_column="cart_id", related_name="items", primary_key=True)
    product = models.ForeignKey(Product, models.DO_NOTHING, db_column="product_id", related_name="+")
    quantity = models.IntegerField()

    class Meta:
        managed = False
        db_table = _table("cart_items")

    def __str__(self):
        return "%s x %s" % (self.quantity, self.product_id)


class Order(models.Model):
    """stripe_webhook.orders: one order per paid Checkout Session, created
    by the webhook handler inside the database."""

    id = models.UUIDField(primary_key=True)
    user_id = models.TextField()
    cart = models.ForeignKey(Cart, models.DO_NOTHING, db_column="cart_id", related_name="orders")
    checkout_session_id = models.TextField(unique=True)
    payment_intent_id = models.TextField(null=True)
    status = models.TextField()
    payment_status = models.TextField()
    currency = models.TextField()
    amount_subtotal = models.BigIntegerField()
    amount_total = models.BigIntegerField()
    customer_email = models.TextField(null=True)
    shipping_name = models.TextField(null=True)
    shipping_line1 = models.TextField(null=True)
    shipping_line2 = models.TextField(null=True)
    shipping_city = models.TextField(null=True)
    shipping_state = models.TextField(null=True)
    shipping_postal_code = models.TextField(null=True)
    shipping_country = models.TextField(null=True)
    review_reason = models.TextField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = _table("orders")
        ordering = ["-created_at"]

    def __str__(self):
        return "order %s (%s)" % (self.pk, self.status)


class OrderItem(models.Model):
    """stripe_webhook.order_items: the cart's lines copied into the order,
    with the unit price at the time of purchase; shortfall flags units that
    were paid for but were not in stock."""

    order = models.ForeignKey(Order, models.DO_NOTHING, db_column="order_id", related_name="items", primary_key=True)
    product = models.ForeignKey(Product, models.DO_NOTHING, db_column="product_id", related_name="+")
    quantity = models.IntegerField()
    unit_amount = models.BigIntegerField()
    shortfall = models.IntegerField()

    class Meta:
        managed = False
        db_table = _table("order_items")

    def __str__(self):
        return "%s x %s" % (self.quantity, self.product_id)
