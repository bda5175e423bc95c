"""`manage.py export_config [-o FILE]`: the whole configuration as one JSON document."""

import sys

from django.core.management.base import BaseCommand

from vtmadmin.services.document import document_export


class Command(BaseCommand):
    help = "Write the configuration document (schema version, revision, SHA-256 digest, every object)."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args, output=None, **options):
        text = document_export()
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
