"""`manage.py build_package [--output DIR]`: build the release package and print its path."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from upgrades.services import PackageError, package_build


class Command(BaseCommand):
    help = "Build ZeusTM_<version>_<platform>.tgz (software, wheels, zinstall, checksums) and print its path."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "dist"), help="directory to write to")

    def handle(self, *args, output, **options):
        try:
            path = package_build(output_dir=Path(output))
        except PackageError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(str(path))
