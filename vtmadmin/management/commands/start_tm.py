"""`manage.py start_tm`: prepare this traffic manager and start its processes (safe to run again)."""

import os

from django.core.management.base import BaseCommand

from vtmadmin.services.node import node_start


class Command(BaseCommand):
    help = "Start this traffic manager: database, admin server (HTTPS), Celery worker with its redis-server, engine."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", help="password for the 'admin' user (default: generate one once)")

    def handle(self, *args, admin_password=None, **options):
        for line in node_start(admin_password=admin_password or os.environ.get("VTM_ADMIN_PASSWORD") or None):
            self.stdout.write(line)
