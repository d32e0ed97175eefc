"""`manage.py tg ...`: seed 001's CLI, on the gateway and the shared limiter."""

import json
from datetime import date

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from leadops.jobs import create_job
from leadops.models import JobRun
from telegram_sources.files import output_format, participant_row, write_rows
from telegram_sources.gateway import FloodWait, TelegramError, get_gateway
from telegram_sources.models import TelegramGroup
from telegram_sources.selectors import current_member_rows
from telegram_sources.services import lookup
from telegram_sources.services.jobs import reference_group, run_group_export, run_reference_refresh

ACTIONS = ["info", "participants", "search", "export", "creation-date", "refresh-reference"]


class Command(BaseCommand):
    help = "Telegram: info, participants, search, export, creation-date GROUP; refresh-reference."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("group", nargs="?", help="-100… id, a number, @username or t.me link")
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--query", default=None, help="search text (search)")
        parser.add_argument("--output", default=None, help="file to write; CSV when it ends in .csv")
        parser.add_argument("--format", choices=["json", "csv"], default=None)
        parser.add_argument("--account", default=None, help="Telegram account to use")
        parser.add_argument("--kind", choices=TelegramGroup.Kind.values, default=None, help="export: group kind")
        parser.add_argument("--event-date", type=date.fromisoformat, default=None, help="export: event date")

    def handle(self, *args, action, group, account, **options):
        if action != "refresh-reference" and not group:
            raise CommandError(f"tg {action} needs a GROUP: a -100… id, a number or a @username")
        if action == "search" and not options["query"]:
            raise CommandError("tg search needs --query TEXT")
        if action == "export" and not options["output"]:
            raise CommandError("tg export needs --output FILE (.json or .csv)")
        try:
            getattr(self, "do_" + action.replace("-", "_"))(group, account=account, **options)
        except FloodWait as exc:
            raise CommandError(
                f"{exc}. The account is blocked meanwhile; an export keeps its checkpoint, "
                "so running the same command after the wait resumes it."
            ) from None
        except (TelegramError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None

    def _write(self, rows, options) -> int:
        fmt = output_format(options["output"], options["format"])
        self.stdout.ending = ""  # the writer emits its own newlines
        count = write_rows(rows, path=options["output"], fmt=fmt, stdout=self.stdout)
        if options["output"]:
            self.stderr.write(f"{count} members written to {options['output']} ({fmt})")
        return count

    def do_info(self, group, *, account, **options):
        info = lookup.group_info(gateway=get_gateway(account), ref=group)
        self.stdout.write(json.dumps(info.__dict__, ensure_ascii=False, indent=2))

    def do_participants(self, group, *, account, **options):
        people = lookup.list_participants(gateway=get_gateway(account), ref=group, limit=options["limit"] or 10_000)
        self._write((participant_row(p) for p in people), options)

    def do_search(self, group, *, account, query, **options):
        gateway = get_gateway(account)
        people = lookup.list_participants(gateway=gateway, ref=group, limit=options["limit"] or 10_000, query=query)
        self._write((participant_row(p) for p in people), options)

    def do_creation_date(self, group, *, account, **options):
        created = lookup.creation_date(gateway=get_gateway(account), ref=group)
        if created is None:
            raise CommandError("the group has no messages: no creation date")
        self.stdout.write(created.isoformat())

    def do_export(self, group, *, account, limit, kind, event_date, **options):
        info = lookup.group_info(gateway=get_gateway(account), ref=group)
        row, _ = TelegramGroup.objects.get_or_create(telegram_id=info.id, defaults={"title": info.title})
        if kind or event_date:
            row.kind = kind or row.kind
            row.event_date = event_date or row.event_date
            row.save(update_fields=["kind", "event_date"])
        job = create_job(kind="tg-export", target=str(row), trigger=JobRun.Trigger.COMMAND)
        result = run_group_export(group_id=row.pk, job_id=job.pk, account=account, limit=limit)
        coverage = f"{result.coverage:.1%}" if result.coverage is not None else "n/a"
        self.stderr.write(f"exported {result.fetched} of {result.participants_count} members ({coverage})")
        self._write(current_member_rows(row), options)

    def do_refresh_reference(self, group, *, account, **options):
        job = create_job(kind="tg-refresh-reference", target=str(reference_group()), trigger=JobRun.Trigger.COMMAND)
        synced = run_reference_refresh(job_id=job.pk, account=account)
        self.stdout.write(synced.summary())
