"""BindShop: a migration operation that binds the models at that point.

The app binds after every `migrate` on its own (post_migrate).  A shop that
wants the binding pinned in its migration history instead, e.g. because a
later data migration relies on it, adds the operation to one of its own
migrations, after the migrations that create the bound tables::

    from stripe_webhook_django.operations import BindShop

    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_careful_hardening")]
        operations = [BindShop()]

It uses the models as they are at that migration.  Unlike the post_migrate
hook it fails the migration when the role may not bind (the message says
what to run, as whom).  Reversing it unbinds (the extension's built-in
tables are used again).
"""
from django.db import migrations

from . import binding
from .conf import get_config


class BindShop(migrations.operations.base.Operation):
    """Create the extension if the role may, and bind the shop's models."""

    reduces_to_sql = False
    reversible = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        config = get_config()
        if schema_editor.connection.alias != config.database:
            return
        try:
            binding.bind(connection=schema_editor.connection, config=config, apps=to_state.apps)
        except binding.BindError as exc:
            raise RuntimeError(str(exc)) from None

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        config = get_config()
        if schema_editor.connection.alias != config.database:
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT stripe_webhook.unbind_shop()")

    def describe(self):
        return "Bind the shop's models to the stripe_webhook extension"
