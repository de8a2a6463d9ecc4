"""The Django project: settings, URLs, the Celery app, and what people see."""

from dashboard.celery import app as celery_app

__all__ = ["celery_app"]
