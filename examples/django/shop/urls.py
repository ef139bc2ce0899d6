"""URLs of the shop app, mounted under /api/payments/."""
from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("stripe_webhook/", views.stripe_webhook, name="stripe_webhook"),
]
