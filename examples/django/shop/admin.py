"""Read-only admin pages for the shop tables (mounted with
DJANGO_ENABLE_ADMIN=1).  The extension owns every write: the admin may
look, never add, change or delete."""
from django.conf import settings

if settings.ENABLE_ADMIN:
    from django.contrib import admin

    from .models import Cart, Order, OrderItem, Product

    class ReadOnlyAdmin(admin.ModelAdmin):
        """ModelAdmin that never writes."""

        def has_add_permission(self, request, obj=None):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def has_delete_permission(self, request, obj=None):
            return False

    class OrderItemInline(admin.TabularInline):
        """The order's lines, shown on the order page."""

        model = OrderItem
        fields = ("product", "quantity", "unit_amount", "shortfall")
        readonly_fields = fields
        can_delete = False
        extra = 0

        def has_add_permission(self, request, obj=None):
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
        inlines = [OrderItemInline]
