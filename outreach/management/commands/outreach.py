"""`manage.py outreach STEP`: the pipeline's steps, one at a time (admin and beat run the same services)."""

import json

from django.core.management.base import BaseCommand, CommandError

from outreach.serp import SerpParseError
from outreach.sheets import SheetError
from outreach.yandex import YandexError

STEPS = ["sync-sheet", "search", "poll", "dedupe", "import-serp", "enrich", "generate", "queue", "deliver", "run-once"]
BUILT = {"sync-sheet", "search", "poll", "dedupe", "import-serp"}


class Command(BaseCommand):
    help = "Outreach pipeline steps: sync-sheet, search, poll, dedupe, import-serp FILE [--query TEXT]."

    def add_arguments(self, parser):
        parser.add_argument("step", choices=STEPS)
        parser.add_argument("file", nargs="?", help="import-serp: a saved Yandex XML response")
        parser.add_argument("--query", default=None, help="import-serp: the query text the file answers")
        parser.add_argument("--batch-tag", default=None)

    def handle(self, *args, step, file, query, **options):
        if step not in BUILT:
            raise CommandError(f"outreach {step}: not available yet")
        try:
            counts = getattr(self, "do_" + step.replace("-", "_"))(file=file, query=query)
        except (SheetError, FileNotFoundError, SerpParseError, YandexError) as exc:
            raise CommandError(f"outreach {step}: {exc}") from None
        self.stdout.write(json.dumps(counts, ensure_ascii=False, default=str))

    def do_sync_sheet(self, **_):
        from outreach.services.sheet_sync import sync_sheet

        return sync_sheet().counts()

    def do_search(self, **_):
        from outreach.services.search import start_due_queries

        return start_due_queries().counts()

    def do_poll(self, **_):
        from outreach.services.search import poll_operations

        return poll_operations().counts()

    def do_dedupe(self, **_):
        from outreach.services.companies import dedupe

        return dedupe()

    def do_import_serp(self, *, file, query, **_):
        from outreach.services.ingest import import_serp_file

        if not file:
            raise CommandError("outreach import-serp needs FILE: a saved Yandex XML response")
        result = import_serp_file(path=file, query_text=query)
        return getattr(result, "__dict__", result)
