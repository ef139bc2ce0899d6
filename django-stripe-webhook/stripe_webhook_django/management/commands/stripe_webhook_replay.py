"""manage.py stripe_webhook_replay EVENT_ID: reprocess a recorded event."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from ...conf import get_config


class Command(BaseCommand):
    help = ("Reprocess a failed or unprocessed event from stripe_webhook.events "
            "(stripe_webhook.stripe_replay_event).  Needs EXECUTE on it (the extension's owner).")

    # usable while `check` reports binding problems (it is how they get fixed)
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("event_id")
        parser.add_argument("--database", help="database alias (default: STRIPE_WEBHOOK['DATABASE'])")

    def handle(self, *args, **options):
        alias = options["database"] or get_config().database
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT stripe_webhook.stripe_replay_event(%s)", [options["event_id"]])
                result = cursor.fetchone()[0]
        except DatabaseError as exc:
            raise CommandError("stripe_replay_event failed: %s" % str(exc).strip())
        if isinstance(result, str):
            result = json.loads(result)
        self.stdout.write(json.dumps(result, sort_keys=True))
        status = result.get("status") if isinstance(result, dict) else None
        if not isinstance(status, int) or status >= 400:
            raise CommandError("event %s not processed (status %s)" % (options["event_id"], status))
