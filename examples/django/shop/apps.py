"""App configuration of the example shop."""
from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The shop: read-only ORM models over schema stripe_webhook and the
    Stripe webhook view."""

    name = "shop"
    verbose_name = "Shop (stripe_webhook)"
    default_auto_field = "django.db.models.BigAutoField"
