"""Django app for the stripe_webhook PostgreSQL extension.

The extension verifies Stripe webhooks and fulfils Checkout Sessions inside
PostgreSQL.  This app lets a Django shop keep its own models: it derives the
extension's binding document from the models' metadata, binds them (after
``migrate`` and in the test database), checks the binding with
``manage.py check``, serves the webhook URL with one SQL call, and turns the
extension's order changes into Django signals (``manage.py
stripe_webhook_listen``).
"""

__version__ = "0.3.0"
