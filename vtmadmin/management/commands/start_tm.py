"""`manage.py start_tm` ($ZEUSHOME/start-zeus): prepare this traffic manager and start its processes.

Safe to run again: only what is not running is started."""

import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from vtmadmin.services.node import banner, node_prepare, node_start


class Command(BaseCommand):
    help = "Start this traffic manager: database, admin server (HTTPS), Celery worker with its redis-server, engine."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", help="password for the 'admin' user (default: generate one once)")
        parser.add_argument("--from-configure", action="store_true",
                            help="read the admin password and license key as JSON on standard input")
        parser.add_argument("--prepare-only", action="store_true", help="prepare the node but start nothing")

    def handle(self, *args, admin_password=None, from_configure=False, prepare_only=False, **options):
        license_text = None
        admin_password = admin_password or os.environ.get("VTM_ADMIN_PASSWORD") or None
        if from_configure:
            given = json.loads(sys.stdin.read() or "{}")
            admin_password, license_text = given.get("admin_password"), given.get("license_key")
        if prepare_only:
            node_prepare(admin_password=admin_password, license_text=license_text)
            for line in banner():
                self.stdout.write(line)
            return
        lines, ok = node_start(admin_password=admin_password, license_text=license_text)
        for line in lines:
            self.stdout.write(line)
        if not ok:
            raise CommandError("Some processes of the traffic manager did not start (see above).")
