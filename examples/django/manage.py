#!/usr/bin/env python3
"""Django's command-line utility for the stripe_webhook example shop.

Run it with Debian's interpreter (/usr/bin/python3), which has
python3-django and python3-psycopg2:

    /usr/bin/python3 manage.py runserver 127.0.0.1:8000

The database connection comes from the environment; see shopsite/settings.py.
"""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
