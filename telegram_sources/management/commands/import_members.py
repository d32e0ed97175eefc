from django.core.management.base import BaseCommand, CommandError

from telegram_sources.services.legacy import import_members
from telegram_sources.services.legacy_files import LegacyFileError


class Command(BaseCommand):
    help = "Import a legacy members.json ({'members': [...]} or a list): upsert users by id, else by username."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the members.json file")

    def handle(self, *args, path, **options):
        try:
            result = import_members(path=path)
        except LegacyFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
