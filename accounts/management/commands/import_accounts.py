from django.core.management.base import BaseCommand, CommandError

from accounts.services.imports import AccountsFileError, import_accounts


class Command(BaseCommand):
    help = (
        "Import seed 003's accounts_config.json (a list of {session_name, api_id, api_hash, string_session, "
        "proxy, phone}): all or nothing, upsert by session_name, secrets encrypted on the way in."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the accounts_config.json file")

    def handle(self, *args, path, **options):
        try:
            result = import_accounts(path=path)
        except AccountsFileError as exc:
            raise CommandError(str(exc)) from None  # the message names index and field, never a value
        self.stdout.write(result.summary())
