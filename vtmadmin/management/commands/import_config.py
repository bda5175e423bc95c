"""`manage.py import_config FILE`: replace the configuration with a document; all or nothing."""

import sys

from django.core.management.base import BaseCommand, CommandError

from vtmadmin.services.diagnose import config_diagnose
from vtmadmin.services.document import DocumentInvalid, document_import


class Command(BaseCommand):
    help = "Import a configuration document ('-' reads standard input). Any error: nothing is changed."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
        except OSError as e:
            raise CommandError(f"Cannot read {file}: {e.strerror}") from None
        try:
            revision = document_import(text, reason=f"imported from {file}")
        except DocumentInvalid as e:
            for error in e.errors:
                where = " ".join(f"{error[k]}" for k in ("type", "name") if k in error)
                detail = error.get("error_info") or ""
                self.stderr.write(f"error: {where + ': ' if where else ''}{error['error_text']} {detail}".rstrip())
            raise CommandError(str(e)) from None
        self.stdout.write(f"Imported {file}: configuration revision {revision}")
        # stored, as on vTM, but said: rules that do not compile, references to missing objects, ...
        for entry in config_diagnose():
            for problem in entry["problems"]:
                self.stderr.write(f"warning: {problem}")
