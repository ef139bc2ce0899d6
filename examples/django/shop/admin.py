"""Read-only admin pages for the shop tables (mounted with
DJANGO_ENABLE_ADMIN=1).  The extension owns every write: the admin may
look, never add, change or delete."""
from django.conf import settings

if settings.ENABLE_ADMIN:
    from django.contrib import admin

    from .models import Cart, Order, Product

    class ReadOnlyAdmin(admin.ModelAdmin):
        """ModelAdmin that never writes."""

        def has_add_permission(self, request, obj=None):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def has_delete_permission(self, request, obj=None):
            return False

    @admin.register(Product)
    class ProductAdmin(ReadOnlyAdmin):
        list_display = ("id", "name", "price_amount", "currency", "stock")
        search_fields = ("name",)

    @admin.register(Cart)
    class CartAdmin(ReadOnlyAdmin):
        list_display = ("id", "user_id", "locked", "locked_at", "created_at")
        list_filter = ("locked",)
        search_fields = ("user_id",)

    @admin.register(Order)
    class OrderAdmin(ReadOnlyAdmin):
        list_display = ("id", "user_id", "status", "payment_status", "amount_total", "currency", "created_at")
        list_filter = ("status", "payment_status")
        search_fields = ("id", "checkout_session_id", "payment_intent_id", "customer_email", "user_id")
        readonly_fields = ("lines",)

        @admin.display(description="items")
        def lines(self, obj):
            """The order's lines as text (order_items has a two-column key,
            which admin inlines cannot edit or even list reliably)."""
            return "; ".join(
                "%s x %s @ %s%s" % (i.quantity, i.product.name, i.unit_amount,
                                    " (short %s)" % i.shortfall if i.shortfall else "")
                for i in obj.items.select_related("product")
            )
