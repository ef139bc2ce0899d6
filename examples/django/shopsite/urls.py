"""URL configuration of the example shop.

/api/payments/stripe_webhook/ is the endpoint to register in Stripe's
dashboard (Developers > Webhooks).  The admin is mounted only when
DJANGO_ENABLE_ADMIN=1 (see settings.py).
"""
from django.conf import settings
from django.urls import include, path

urlpatterns = [
    path("api/payments/", include("shop.urls")),
]

if settings.ENABLE_ADMIN:
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
