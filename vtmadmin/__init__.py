"""The traffic manager's admin side: settings, global configuration, users, licenses."""

from .celery import app as celery_app

__all__ = ["celery_app"]
