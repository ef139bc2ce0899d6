"""Settings of the stripe_webhook example shop (Django 3.2+, PostgreSQL).

Everything that differs between machines comes from the environment:

  DJANGO_DB_NAME, DJANGO_DB_HOST, DJANGO_DB_PORT
        database, host (name, IP or Unix-socket directory) and port;
        default to libpq's PGDATABASE, PGHOST, PGPORT
  DJANGO_DB_USER, DJANGO_DB_PASSWORD
        role of the "default" alias, used by the ORM: a role that may read the
        shop tables (examples/django/grants.sql creates shop_reader)
  STRIPE_WEBHOOK_DB_USER, STRIPE_WEBHOOK_DB_PASSWORD
        role of the "stripe_webhook" alias, used only by the webhook view: the
        least-privilege relay role from sql/relay_role.sql, which may EXECUTE
        stripe_webhook.stripe_handle_webhook() and nothing else
  STRIPE_WEBHOOK_DB_NAME, STRIPE_WEBHOOK_DB_HOST, STRIPE_WEBHOOK_DB_PORT
        optional; default to the DJANGO_DB_* values
  DJANGO_SECRET_KEY, DJANGO_DEBUG (0/1), DJANGO_ALLOWED_HOSTS (comma list)
  DJANGO_ENABLE_ADMIN (0/1)
        mount Django's admin at /admin/ with read-only pages for the shop
        tables; the admin needs Django's own tables (manage.py migrate, run
        once by a role that may create them)

Schema: the extension's tables live in schema stripe_webhook.  The models
name their tables schema-qualified (db_table = '"stripe_webhook"."orders"'),
so no search_path is needed.  The alternative, a search_path set per
connection, is shown (commented out) in OPTIONS below.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=""):
    """Value of an environment variable, or default when unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_flag(name, default=False):
    """Boolean environment variable: 1/true/yes/on are true."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY = env("DJANGO_SECRET_KEY", "insecure-example-key-set-DJANGO_SECRET_KEY")
DEBUG = env_flag("DJANGO_DEBUG")
ALLOWED_HOSTS = [h.strip() for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]

ENABLE_ADMIN = env_flag("DJANGO_ENABLE_ADMIN")

INSTALLED_APPS = ["shop.apps.ShopConfig"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
TEMPLATES = []
if ENABLE_ADMIN:
    INSTALLED_APPS = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ] + INSTALLED_APPS
    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ],
            },
        }
    ]

ROOT_URLCONF = "shopsite.urls"
WSGI_APPLICATION = "shopsite.wsgi.application"

_DB_NAME = env("DJANGO_DB_NAME", env("PGDATABASE", "shop"))
_DB_HOST = env("DJANGO_DB_HOST", env("PGHOST"))
_DB_PORT = env("DJANGO_DB_PORT", env("PGPORT"))

DATABASES = {
    # The ORM's connection: reads products, carts and orders.
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _DB_NAME,
        "HOST": _DB_HOST,
        "PORT": _DB_PORT,
        "USER": env("DJANGO_DB_USER", "shop_reader"),
        "PASSWORD": env("DJANGO_DB_PASSWORD"),
        "OPTIONS": {
            "application_name": "django-shop",
            # Alternative to schema-qualified db_table values: put the schema
            # on the search path of every connection, then use
            # db_table = "orders" in the models.
            # "options": "-c search_path=stripe_webhook,public",
        },
    },
    # The webhook view's connection: the relay role, EXECUTE on
    # stripe_webhook.stripe_handle_webhook() only.  Autocommit (Django's
    # default): the handler's one statement is its own transaction.
    "stripe_webhook": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env("STRIPE_WEBHOOK_DB_NAME", _DB_NAME),
        "HOST": env("STRIPE_WEBHOOK_DB_HOST", _DB_HOST),
        "PORT": env("STRIPE_WEBHOOK_DB_PORT", _DB_PORT),
        "USER": env("STRIPE_WEBHOOK_DB_USER", "stripe_webhook_relay"),
        "PASSWORD": env("STRIPE_WEBHOOK_DB_PASSWORD"),
        "CONN_MAX_AGE": 60,
        "ATOMIC_REQUESTS": False,
        "OPTIONS": {"application_name": "django-stripe-webhook"},
    },
}

# The alias the webhook view calls the handler through.
STRIPE_WEBHOOK_DATABASE = "stripe_webhook"

# Request bodies larger than this are refused with 400 before the view runs
# (Django's default, 2.5 MB; Stripe events are far smaller).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# cart_items and order_items have two-column primary keys, which Django
# before 5.2 cannot express; their models declare the first key column (a
# ForeignKey) as primary_key, which this check warns about.  See the
# CartItem docstring in shop/models.py.
SILENCED_SYSTEM_CHECKS = ["fields.W342"]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"

# Log to stderr.  The webhook view never logs bodies or signatures.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "shop": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    },
}
