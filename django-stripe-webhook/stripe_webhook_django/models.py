"""No models: the app binds the shop's own models (settings.STRIPE_WEBHOOK).

The module exists so that Django sends this app's post_migrate signal, after
which the binding is (re)applied; see stripe_webhook_django.apps.
"""
