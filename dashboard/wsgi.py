"""WSGI entry point for production web servers (gunicorn, uWSGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
application = get_wsgi_application()

from dashboard.server_heap import settle_heap  # noqa: E402 (needs the application's settings)

settle_heap()
