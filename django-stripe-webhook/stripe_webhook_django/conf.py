"""settings.STRIPE_WEBHOOK: reading it, and the defaults it falls back on.

One dictionary configures the app::

    STRIPE_WEBHOOK = {
        "PRODUCT": "shop.Product",          # the shop's own models
        "CART": "shop.Cart",
        "CART_ITEM": "shop.CartItem",
        "ORDER": "shop.Order",
        "ORDER_ITEM": "shop.OrderItem",
        "FIELDS": {"orders.checkout_session": "stripe_session_id"},
        "STATUS_VALUES": {"confirmed": "confirmed", "unpaid": "pending"},
        "CURRENCY": "usd",
        "DATABASE": "default",
    }

FIELDS maps "<role>.<logical name>" to a field name of the role's model, only
where the defaults below do not find the right field (None leaves an
optional logical name unbound).  Column names are never written here: they
come from the models (field.column), tables from _meta.db_table.
"""
from django.apps import apps as global_apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

# The five roles of the binding, in the extension's order, and the setting
# that names each role's model.
ROLES = (
    ("products", "PRODUCT"),
    ("carts", "CART"),
    ("cart_items", "CART_ITEM"),
    ("orders", "ORDER"),
    ("order_items", "ORDER_ITEM"),
)

# The roles the fulfilment inserts rows into: NOT NULL columns of these
# that the binding does not map need a constant ("values") or a database
# default.
INSERTED_ROLES = ("carts", "cart_items", "orders", "order_items")

PK = object()  # "the model's primary key"

# Logical names per role: (name, required, candidate field names).  The
# first candidate the model has is bound unless FIELDS says otherwise.
LOGICAL_NAMES = {
    "products": (
        ("id", True, (PK,)),
        ("price", True, ("price", "price_amount", "unit_price")),
        ("stock", True, ("stock", "stock_quantity")),
        ("currency", False, ("currency",)),
    ),
    "carts": (
        ("id", True, (PK,)),
        ("user", True, ("user",)),
        ("locked", True, ("locked", "is_locked")),
        ("locked_at", False, ("locked_at",)),
        ("created_at", False, ("created_at",)),
        ("checkout_session", False, ("checkout_session", "checkout_session_id")),
    ),
    "cart_items": (
        ("cart", True, ("cart",)),
        ("product", True, ("product",)),
        ("quantity", True, ("quantity",)),
    ),
    "orders": (
        ("id", True, (PK,)),
        ("user", True, ("user",)),
        ("status", True, ("status",)),
        ("cart", False, ("cart",)),
        ("checkout_session", False, ("checkout_session", "checkout_session_id", "stripe_session_id")),
        ("payment_intent", False, ("payment_intent", "payment_intent_id", "stripe_payment_intent_id")),
        ("payment_status", False, ("payment_status",)),
        ("currency", False, ("currency",)),
        ("customer_email", False, ("customer_email",)),
        ("shipping_name", False, ("shipping_name",)),
        ("shipping_line1", False, ("shipping_line1",)),
        ("shipping_line2", False, ("shipping_line2",)),
        ("shipping_city", False, ("shipping_city",)),
        ("shipping_state", False, ("shipping_state",)),
        ("shipping_postal_code", False, ("shipping_postal_code",)),
        ("shipping_country", False, ("shipping_country",)),
        ("review_reason", False, ("review_reason",)),
        ("amount_subtotal", False, ("amount_subtotal", "subtotal")),
        ("amount_total", False, ("amount_total", "total")),
        ("created_at", False, ("created_at",)),
        ("updated_at", False, ("updated_at",)),
    ),
    "order_items": (
        ("order", True, ("order",)),
        ("product", True, ("product",)),
        ("quantity", True, ("quantity",)),
        ("unit_price", True, ("unit_price", "price", "unit_amount")),
        ("shortfall", False, ("shortfall",)),
        ("stock_taken", False, ("stock_taken",)),
    ),
}

STATUS_KEYS = ("pending", "confirmed", "needs_review", "cancelled", "refunded", "unpaid", "paid", "failed")

KNOWN_KEYS = {"PRODUCT", "CART", "CART_ITEM", "ORDER", "ORDER_ITEM", "FIELDS", "STATUS_VALUES", "CURRENCY",
              "DATABASE", "WEBHOOK_DATABASE", "BIND_AFTER_MIGRATE", "CHECK_DATABASE", "LISTENER"}


class Config:
    """The validated contents of settings.STRIPE_WEBHOOK."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ImproperlyConfigured("settings.STRIPE_WEBHOOK must be a dict; see the app's README")
        unknown = sorted(set(raw) - KNOWN_KEYS)
        if unknown:
            raise ImproperlyConfigured("settings.STRIPE_WEBHOOK has unknown keys: %s (known: %s)"
                                       % (", ".join(unknown), ", ".join(sorted(KNOWN_KEYS))))
        self.models = {}
        for role, key in ROLES:
            label = raw.get(key)
            if not isinstance(label, str) or label.count(".") != 1:
                raise ImproperlyConfigured(
                    'settings.STRIPE_WEBHOOK["%s"] must name the shop\'s model as "app_label.ModelName" (got %r)'
                    % (key, label))
            self.models[role] = label
        fields = raw.get("FIELDS") or {}
        if not isinstance(fields, dict):
            raise ImproperlyConfigured('settings.STRIPE_WEBHOOK["FIELDS"] must be a dict')
        self.fields = {}
        for key, value in fields.items():
            role, _, logical = str(key).partition(".")
            names = [n for n, _req, _c in LOGICAL_NAMES.get(role, ())]
            if logical not in names:
                raise ImproperlyConfigured(
                    'settings.STRIPE_WEBHOOK["FIELDS"] key %r is not "<role>.<logical name>"; roles: %s; '
                    "logical names of %s: %s" % (key, ", ".join(r for r, _k in ROLES), role or "?",
                                                  ", ".join(names) or "-"))
            if value is not None and not isinstance(value, str):
                raise ImproperlyConfigured('settings.STRIPE_WEBHOOK["FIELDS"][%r] must be a field name or None' % key)
            self.fields[(role, logical)] = value
        status = raw.get("STATUS_VALUES") or {}
        if not isinstance(status, dict) or set(status) - set(STATUS_KEYS):
            raise ImproperlyConfigured('settings.STRIPE_WEBHOOK["STATUS_VALUES"] keys must be among: %s'
                                       % ", ".join(STATUS_KEYS))
        self.status_values = dict(status)
        self.currency = raw.get("CURRENCY")
        self.database = raw.get("DATABASE", "default")
        self.webhook_database = raw.get("WEBHOOK_DATABASE", self.database)
        for key, alias in (("DATABASE", self.database), ("WEBHOOK_DATABASE", self.webhook_database)):
            if alias not in settings.DATABASES:
                raise ImproperlyConfigured('settings.STRIPE_WEBHOOK["%s"] = %r is not in settings.DATABASES'
                                           % (key, alias))
        self.bind_after_migrate = bool(raw.get("BIND_AFTER_MIGRATE", True))
        self.check_database = bool(raw.get("CHECK_DATABASE", True))
        self.listener = raw.get("LISTENER", "default")

    def model(self, role, apps=None):
        """The model class bound to a role (from `apps`, e.g. a migration
        state's, or the project's registry)."""
        app_label, model_name = self.models[role].split(".")
        try:
            return (apps or global_apps).get_model(app_label, model_name)
        except LookupError:
            raise ImproperlyConfigured('settings.STRIPE_WEBHOOK names model %r for %s, which is not installed'
                                       % (self.models[role], role))

    def field_for(self, role, logical, model):
        """The model field bound to role.logical, or None when unbound."""
        if (role, logical) in self.fields:
            name = self.fields[(role, logical)]
            if name is None:
                return None
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                raise ImproperlyConfigured(
                    'settings.STRIPE_WEBHOOK["FIELDS"]["%s.%s"] = %r: %s has no such field'
                    % (role, logical, name, model._meta.label))
            if not getattr(field, "concrete", False) or not getattr(field, "column", None):
                raise ImproperlyConfigured(
                    'settings.STRIPE_WEBHOOK["FIELDS"]["%s.%s"] = %r: not a field with a database column'
                    % (role, logical, name))
            return field
        for candidate in dict((n, c) for n, _r, c in LOGICAL_NAMES[role])[logical]:
            if candidate is PK:
                return model._meta.pk
            try:
                field = model._meta.get_field(candidate)
            except FieldDoesNotExist:
                continue
            if getattr(field, "concrete", False) and getattr(field, "column", None):
                return field
        return None


def get_config():
    """Config of the current settings (ImproperlyConfigured when absent or wrong)."""
    raw = getattr(settings, "STRIPE_WEBHOOK", None)
    if raw is None:
        raise ImproperlyConfigured("settings.STRIPE_WEBHOOK is not set; see the app's README for the one entry it needs")
    return Config(raw)
