"""manage.py stripe_webhook_status: the events overview."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from ...conf import get_config


class Command(BaseCommand):
    help = ("Show stripe_webhook.events_overview: events per type and status, the oldest unprocessed "
            "event, failed events with their last error; and each listener's position.  Needs SELECT "
            "on the view (the extension's owner, or a role granted it).")

    # usable while `check` reports binding problems (it is how they get fixed)
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--database", help="database alias (default: STRIPE_WEBHOOK['DATABASE'])")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options):
        alias = options["database"] or get_config().database
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("""
                    SELECT type, status, events, attempts, first_received_at, last_received_at,
                           oldest_unprocessed_id, oldest_unprocessed_at, last_error_event_id,
                           last_sqlstate, last_error, last_error_at
                    FROM stripe_webhook.events_overview ORDER BY type, status""")
                cols = [c[0] for c in cursor.description]
                rows = [dict(zip(cols, r)) for r in cursor.fetchall()]
                listeners = []
                try:
                    cursor.execute("""
                        SELECT c.listener, c.last_id, c.updated_at,
                               (SELECT count(*) FROM stripe_webhook.order_changes o
                                WHERE o.id > c.last_id AND o.id <> ALL (c.done_ids)) AS pending
                        FROM stripe_webhook.order_change_cursors c ORDER BY c.listener""")
                    listeners = [dict(zip([c[0] for c in cursor.description], r)) for r in cursor.fetchall()]
                except DatabaseError:
                    listeners = None
        except DatabaseError as exc:
            raise CommandError("cannot read stripe_webhook.events_overview: %s" % str(exc).strip())
        if options["json"]:
            self.stdout.write(json.dumps({"events": rows, "listeners": listeners}, default=str, indent=2))
            return
        if not rows:
            self.stdout.write("no events recorded")
        total = sum(r["events"] for r in rows)
        unprocessed = sum(r["events"] for r in rows if r["status"] in ("received", "failed"))
        self.stdout.write("events: %d, unprocessed (received or failed): %d" % (total, unprocessed))
        for r in rows:
            self.stdout.write("  %-45s %-10s %6d" % (r["type"], r["status"], r["events"]))
        oldest = [r for r in rows if r["oldest_unprocessed_id"]]
        if oldest:
            o = min(oldest, key=lambda r: r["oldest_unprocessed_at"])
            self.stdout.write("oldest unprocessed: %s (%s, %s) since %s"
                              % (o["oldest_unprocessed_id"], o["type"], o["status"], o["oldest_unprocessed_at"]))
        failed = [r for r in rows if r["status"] == "failed"]
        for r in failed:
            self.stdout.write("failed %s: %d event(s); last error on %s at %s: [%s] %s"
                              % (r["type"], r["events"], r["last_error_event_id"], r["last_error_at"],
                                 r["last_sqlstate"], r["last_error"]))
        if failed:
            self.stdout.write("replay one with: manage.py stripe_webhook_replay EVENT_ID")
        if listeners:
            for l in listeners:
                self.stdout.write("listener %s: at change %s, %d pending, updated %s"
                                  % (l["listener"], l["last_id"], l["pending"], l["updated_at"]))
