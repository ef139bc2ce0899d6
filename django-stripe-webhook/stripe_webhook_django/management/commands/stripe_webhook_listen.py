"""manage.py stripe_webhook_listen: order changes -> Django signals."""
import signal

from django.core.management.base import BaseCommand, CommandError

from ...conf import get_config
from ...listener import Listener, ReceiverFailed


class Command(BaseCommand):
    help = ("Send order_created, order_cancelled and order_needs_review for every committed order change "
            "(stripe_webhook.order_changes), catching up from where this listener stopped, then waiting "
            "for NOTIFY stripe_webhook_orders.  Stops cleanly on SIGTERM or SIGINT.")

    def add_arguments(self, parser):
        parser.add_argument("--name", help="listener name, the key of its cursor "
                                           "(default: STRIPE_WEBHOOK['LISTENER'] or 'default')")
        parser.add_argument("--database", help="database alias (default: STRIPE_WEBHOOK['DATABASE'])")
        parser.add_argument("--once", action="store_true", help="catch up and exit (e.g. from cron)")
        parser.add_argument("--rescan", type=float, default=30.0,
                            help="seconds between reads of the table without a notification (default 30)")

    def handle(self, *args, **options):
        config = get_config()
        listener = Listener(config, options["name"] or config.listener, alias=options["database"],
                            rescan=options["rescan"], out=self.stdout if options["verbosity"] >= 1 else None)

        def stop(signum, frame):
            listener.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if options["verbosity"] >= 1 and not options["once"]:
            self.stdout.write("stripe_webhook: listening as %r" % listener.name)
            self.stdout.flush()
        try:
            listener.run(once=options["once"])
        except ReceiverFailed as exc:
            raise CommandError("a receiver raised (%s); the change will be sent again" % exc)
        finally:
            listener.close()
        if options["verbosity"] >= 1:
            self.stdout.write("stripe_webhook: %d change(s) sent" % listener.delivered)
