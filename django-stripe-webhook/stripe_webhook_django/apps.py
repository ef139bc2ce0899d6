"""App configuration: registers the system check and the post_migrate bind."""
import sys

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.models.signals import post_migrate


def bind_after_migrate(sender, app_config=None, using=None, verbosity=1, stdout=None, **kwargs):
    """post_migrate receiver: (re)bind the shop's models once per migrate.

    Runs for this app's post_migrate only (Django sends one per app), on the
    database that was migrated, if it is STRIPE_WEBHOOK["DATABASE"] and the
    shop's tables exist (after `migrate shop zero` they do not).  A role that
    may not bind gets a message saying what to run, as whom; migrate itself
    does not fail (the shop's tables are fine).  In the test database
    (`manage.py test`) this is what installs the extension and the binding.
    """
    if app_config is None or app_config.name != StripeWebhookConfig.name:
        return
    from . import binding
    from .conf import ROLES, get_config

    out = stdout or sys.stdout
    try:
        config = get_config()
    except ImproperlyConfigured as exc:
        out.write("stripe_webhook: not bound: %s\n" % exc)
        return
    if not config.bind_after_migrate or using != config.database:
        return
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    missing = [config.model(role)._meta.db_table for role, _k in ROLES
               if config.model(role)._meta.db_table not in tables]
    if missing:
        if verbosity >= 1:
            out.write("stripe_webhook: not bound yet, tables missing: %s\n" % ", ".join(missing))
        return
    try:
        result = binding.bind(connection=connection, config=config)
    except binding.BindError as exc:
        out.write("%s\n" % exc)
        return
    except DatabaseError as exc:
        out.write("stripe_webhook: not bound: %s\n%s\n" % (str(exc).strip(), binding.how_to_bind(
            connection, connection.settings_dict.get("USER") or "in use", "could not bind")))
        return
    if verbosity >= 1 and result == "bound":
        out.write("stripe_webhook: bound %s\n" % ", ".join(config.models[r] for r, _k in ROLES))


class StripeWebhookConfig(AppConfig):
    """The stripe_webhook_django app."""

    name = "stripe_webhook_django"
    label = "stripe_webhook_django"
    verbose_name = "Stripe webhook (PostgreSQL extension)"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system check)

        post_migrate.connect(bind_after_migrate, dispatch_uid="stripe_webhook_django.bind_after_migrate")
