"""`manage.py stop_tm`: stop this traffic manager's processes."""

from django.core.management.base import BaseCommand

from vtmadmin.services.processes import processes_stop


class Command(BaseCommand):
    help = "Stop this traffic manager's processes (engine, admin server, worker, broker)."

    def handle(self, *args, **options):
        for line in processes_stop():
            self.stdout.write(line)
