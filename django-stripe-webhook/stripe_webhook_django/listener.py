"""Turning stripe_webhook.order_changes into Django signals.

The extension records each order change in stripe_webhook.order_changes in
the same transaction as the change and NOTIFYs "stripe_webhook_orders" at
commit.  The listener LISTENs on a dedicated psycopg2 connection (not one of
Django's), reads every change it has not handled yet, sends the matching
signal and, once the receivers returned, records the change as handled in
stripe_webhook.order_change_cursors (its row keyed by the listener's name).
Notifications only wake it up; the table is what it reads, so changes made
while it was stopped are delivered when it starts again.

Change ids come from an identity column, and a transaction can commit after
another that took a higher id.  The cursor is therefore last_id (every id up
to it is handled or will never exist) plus done_ids (ids above it already
handled).  An id missing below a handled one is a "hole": a transaction that
is still running (its row will appear) or that rolled back (it never will).
A hole is given up only when every transaction that was running when the
hole was first seen has ended (pg_snapshot_xmin passed that moment's xmax)
and the row still is not there.
"""
import logging
import select
import time

import psycopg2
import psycopg2.extensions
from django.db import DatabaseError, close_old_connections, connections

from .signals import BY_CHANGE

logger = logging.getLogger("stripe_webhook_django.listener")

CHANNEL = "stripe_webhook_orders"


class ReceiverFailed(Exception):
    """A signal receiver raised; the change stays unhandled."""


class Listener:
    """One named listener: catch up, then wait for notifications."""

    def __init__(self, config, name, alias=None, batch=500, rescan=30.0, out=None):
        self.config = config
        self.name = name
        self.alias = alias or config.database
        self.batch = batch
        self.rescan = rescan
        self.out = out
        self.conn = None
        self.last_id = 0
        self.done = set()
        self.holes = {}  # id -> xmax (text xid8) when the hole was first seen
        self.stopping = False
        self.delivered = 0

    # -- connection and cursor ---------------------------------------------

    def connect(self):
        """Open the dedicated connection, LISTEN, load (or create) the cursor."""
        params = connections[self.alias].get_connection_params()
        self.conn = psycopg2.connect(**params)
        self.conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self.conn.cursor() as cur:
            cur.execute("LISTEN " + CHANNEL)
            cur.execute("INSERT INTO stripe_webhook.order_change_cursors (listener) VALUES (%s) "
                        "ON CONFLICT (listener) DO NOTHING", [self.name])
            cur.execute("SELECT last_id, done_ids FROM stripe_webhook.order_change_cursors WHERE listener = %s",
                        [self.name])
            self.last_id, done = cur.fetchone()
        self.done = set(done or ())
        self.holes = {}

    def close(self):
        """Close the dedicated connection."""
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def _compact(self):
        """Move last_id over handled ids and given-up holes."""
        while self.last_id + 1 in self.done:
            self.last_id += 1
            self.done.discard(self.last_id)
            self.holes.pop(self.last_id, None)

    def _save(self):
        """Store the cursor (after a change was handled or holes given up)."""
        self._compact()
        with self.conn.cursor() as cur:
            cur.execute("UPDATE stripe_webhook.order_change_cursors "
                        "SET last_id = %s, done_ids = %s::bigint[], updated_at = pg_catalog.now() "
                        "WHERE listener = %s", [self.last_id, sorted(self.done), self.name])

    # -- one pass ------------------------------------------------------------

    def catch_up(self):
        """Handle every committed change not handled yet; returns how many."""
        handled = 0
        while not self.stopping:
            with self.conn.cursor() as cur:
                cur.execute("SELECT id, order_id, change, status, checkout_session_id, stripe_event_id, created_at "
                            "FROM stripe_webhook.order_changes "
                            "WHERE id > %s AND id <> ALL (%s::bigint[]) ORDER BY id LIMIT %s",
                            [self.last_id, sorted(self.done), self.batch])
                rows = cur.fetchall()
                cur.execute("SELECT pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text")
                xmax_after = cur.fetchone()[0]
            if rows:
                self._note_holes([r[0] for r in rows], xmax_after)
            for row in rows:
                if self.stopping:
                    break
                self.handle(row)
                self.done.add(row[0])
                self.holes.pop(row[0], None)
                self._save()
                handled += 1
            if not rows or len(rows) < self.batch:
                break
        self._settle_holes()
        return handled

    def _note_holes(self, ids, xmax_after):
        """Remember ids missing below the highest visible one."""
        visible = set(ids)
        for hole in range(self.last_id + 1, max(ids)):
            if hole not in visible and hole not in self.done and hole not in self.holes:
                self.holes[hole] = xmax_after

    def _settle_holes(self):
        """Give up holes whose transactions have all ended without a row."""
        if not self.holes:
            return
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text")
            xmin = cur.fetchone()[0]
            candidates = sorted(h for h, xmax in self.holes.items() if int(xmin) >= int(xmax))
            if not candidates:
                return
            # Read after the xmin: a row committed meanwhile is visible now.
            cur.execute("SELECT id FROM stripe_webhook.order_changes WHERE id = ANY (%s::bigint[])", [candidates])
            appeared = {r[0] for r in cur.fetchall()}
        gone = [h for h in candidates if h not in appeared]
        for h in gone:
            self.done.add(h)
            self.holes.pop(h, None)
        if gone:
            self._save()

    def handle(self, row):
        """Send the signal for one change (receivers run here)."""
        change_id, order_id, change, status, session_id, event_id, created_at = row
        signal = BY_CHANGE.get(change)
        if signal is None:
            logger.warning("order change %s: unknown change %r, skipped", change_id, change)
            return
        close_old_connections()
        model = self.config.model("orders")
        try:
            order = model._default_manager.using(self.config.database).get(pk=order_id)
        except model.DoesNotExist:
            logger.warning("order change %s: order %s no longer exists, %s not sent", change_id, order_id, change)
            return
        except DatabaseError as exc:
            # Django's connection failed (server restarting...): try again later.
            connections[self.config.database].close()
            logger.warning("order change %s: cannot read order %s (%s); retrying", change_id, order_id,
                           type(exc).__name__)
            raise ReceiverFailed(str(exc)) from exc
        info = {"id": change_id, "change": change, "status": status, "checkout_session_id": session_id,
                "created_at": created_at}
        try:
            signal.send(sender=model, order=order, stripe_event_id=event_id, change=info)
        except Exception as exc:
            logger.exception("order change %s (%s of order %s): a receiver raised", change_id, change, order_id)
            raise ReceiverFailed(str(exc)) from exc
        self.delivered += 1
        if self.out is not None:
            self.out.write("%s %s order=%s event=%s\n" % (change_id, change, order_id, event_id or "-"))
            self.out.flush()

    # -- the loop --------------------------------------------------------------

    def wait(self, timeout):
        """Wait for a notification (or the timeout); drain them.

        A notification that arrived while the listener ran its own queries
        is already in conn.notifies (psycopg2 reads it with the results),
        not on the socket: look there first, or it would wait for nothing."""
        self.conn.poll()
        if self.conn.notifies:
            del self.conn.notifies[:]
            return True
        if select.select([self.conn], [], [], timeout) != ([], [], []):
            self.conn.poll()
            del self.conn.notifies[:]
            return True
        return False

    def run(self, once=False):
        """Catch up; unless `once`, then wait and catch up again until
        stopped.  Reconnects after connection errors; retries a change whose
        receiver raised after a growing pause (it is never skipped)."""
        pause = 1.0
        while not self.stopping:
            try:
                if self.conn is None:
                    self.connect()
                self.catch_up()
                pause = 1.0
                if once:
                    return
                deadline = time.monotonic() + self.rescan
                while not self.stopping and time.monotonic() < deadline:
                    if self.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                        break
                    if self.holes:
                        break
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                logger.warning("listener connection lost (%s); reconnecting in %.0f s",
                               str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, pause)
                self.close()
            except ReceiverFailed:
                if once:
                    raise
            else:
                continue
            self._sleep(pause)
            pause = min(pause * 2, 60.0)

    def _sleep(self, seconds):
        """Sleep, waking up early when asked to stop."""
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

