"""Signals sent by `manage.py stripe_webhook_listen` for committed order changes.

Each receiver gets sender = the shop's Order model class and the keyword
arguments:

  order            the shop's Order instance (read after the change committed)
  stripe_event_id  the Stripe event that caused the change (may be None)
  change           dict: id (order_changes.id), change, status,
                   checkout_session_id, created_at

Delivery is at least once and only after commit: a fulfilment that rolled
back never produces a signal.  A receiver that raises stops the listener
from moving past that change; it is delivered again (to every receiver), so
receivers should be idempotent (e.g. key e-mails by change["id"]).
"""
from django.dispatch import Signal

order_created = Signal()
order_cancelled = Signal()
order_needs_review = Signal()

BY_CHANGE = {
    "order_created": order_created,
    "order_cancelled": order_cancelled,
    "order_needs_review": order_needs_review,
}
