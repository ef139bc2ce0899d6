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
    """stripe_webhook.carts: a user's cart.  A user has at most one unlocked
    (active) cart; the fulfilment locks the paid cart, records the Checkout
    Session that paid it and gives the user a new, empty cart."""

    id = models.BigAutoField(primary_key=True)
    user_id = models.TextField()
    locked = models.BooleanField(default=False)
    locked_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()
    checkout_session_id = models.TextField(null=True)

    class Meta:
        managed = False
        db_table = _table("carts")
        ordering = ["id"]

    def __str__(self):
        return "cart %s of %s%s" % (self.pk, self.user_id, " (locked)" if self.locked else "")


class CartItem(models.Model):
    """stripe_webhook.cart_items: one line per product per cart.

    The table's primary key is (cart_id, product_id).  Django before 5.2
    has no composite primary keys, so the key's first column, cart_id,
    stands in as primary_key (settings.py silences the resulting check
    fields.W342).  Read lines through their cart (cart.items.all()) or with
    filter(); do not use .get(pk=...), save() or delete() on this model, and
    do not compare two lines of one cart (they share the stand-in key).
    With Django 5.2+: pk = models.CompositePrimaryKey("cart_id", "product_id")."""

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
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = _table("orders")
        ordering = ["-created_at"]

    def __str__(self):
        return "order %s (%s)" % (self.pk, self.status)


class OrderItem(models.Model):
    """stripe_webhook.order_items: the cart's lines copied into the order,
    with the unit price at the time of purchase.  shortfall counts units
    paid for but missing from stock when the order was created; stock_taken
    is what the line currently holds from the product's stock (0 once the
    order is cancelled and the stock returned).

    Primary key (order_id, product_id): order_id stands in for it, as for
    CartItem; read lines through their order (order.items.all())."""

    order = models.ForeignKey(Order, models.DO_NOTHING, db_column="order_id", related_name="items", primary_key=True)
    product = models.ForeignKey(Product, models.DO_NOTHING, db_column="product_id", related_name="+")
    quantity = models.IntegerField()
    unit_amount = models.BigIntegerField()
    shortfall = models.IntegerField(default=0)
    stock_taken = models.IntegerField(default=0)

    class Meta:
        managed = False
        db_table = _table("order_items")

    def __str__(self):
        return "%s x %s" % (self.quantity, self.product_id)
