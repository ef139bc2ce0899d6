"""URLconf: include it at the path Stripe posts to, e.g.

    path("api/payments/stripe_webhook/", include("stripe_webhook_django.urls"))
"""
from django.urls import path

from .views import stripe_webhook

app_name = "stripe_webhook_django"

urlpatterns = [
    path("", stripe_webhook, name="webhook"),
]
