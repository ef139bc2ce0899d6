"""manage.py stripe_webhook_bind: create the extension and bind the models."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from ... import binding
from ...conf import get_config


class Command(BaseCommand):
    help = ("Create the stripe_webhook extension if needed and bind the shop's models "
            "(settings.STRIPE_WEBHOOK) with stripe_webhook.bind_shop().  Needs a superuser; "
            "--sql prints the SQL for one instead.")

    # usable while `check` reports binding problems (it is how they get fixed)
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--database", help="database alias (default: STRIPE_WEBHOOK['DATABASE'])")
        parser.add_argument("--sql", action="store_true",
                            help="print the SQL a superuser runs (psql) instead of running it")
        parser.add_argument("--document", action="store_true", help="print the binding document (JSON) and exit")
        parser.add_argument("--force", action="store_true", help="call bind_shop even if the stored binding is equal")

    def handle(self, *args, **options):
        config = get_config()
        alias = options["database"] or config.database
        document, db_defaults = binding.build(config)
        if options["document"]:
            self.stdout.write(json.dumps(document, indent=2, sort_keys=True))
            return
        if options["sql"]:
            self.stdout.write(binding.sql_script(document, db_defaults, connections[alias]), ending="")
            return
        try:
            result = binding.bind(alias=alias, config=config, force=options["force"])
        except binding.BindError as exc:
            raise CommandError(str(exc))
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT version FROM stripe_webhook.shop_binding")
            version = cursor.fetchone()[0]
        self.stdout.write("stripe_webhook: %s (binding version %s)"
                          % ("bound" if result == "bound" else "already bound, unchanged", version))
