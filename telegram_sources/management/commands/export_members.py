from django.core.management.base import BaseCommand, CommandError

from telegram_sources.services.legacy_export import export_members
from telegram_sources.services.legacy_files import LegacyFileError


class Command(BaseCommand):
    help = "Write every user to a members.json in the legacy shape ({'members': [...]}), atomically."

    def add_arguments(self, parser):
        parser.add_argument("path", help="where to write; replaced only once the new file is complete")

    def handle(self, *args, path, **options):
        try:
            result = export_members(path=path)
        except LegacyFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
