"""The Celery application of one traffic manager, on its private redis-server."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vtmadmin.settings")

app = Celery("vtmadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
