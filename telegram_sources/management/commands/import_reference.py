from django.core.management.base import BaseCommand, CommandError

from telegram_sources.services.legacy import import_reference
from telegram_sources.services.legacy_files import LegacyFileError, parse_time


class Command(BaseCommand):
    help = "Set in_reference from a reference-group snapshot (s16_space_all_participants.json)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the participants file: a list, or {'participants': [...]}")
        parser.add_argument(
            "--synced-at",
            metavar="ISO",
            help="when the snapshot was taken (ISO 8601; no offset means UTC). Default: now",
        )

    def handle(self, *args, path, synced_at=None, **options):
        when = None
        if synced_at:
            try:
                when = parse_time(synced_at)
            except ValueError as exc:
                raise CommandError(f"--synced-at: not an ISO 8601 time: {synced_at!r}") from exc
        try:
            result = import_reference(path=path, synced_at=when)
        except LegacyFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
