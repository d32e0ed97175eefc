"""`manage.py outreach STEP`: the pipeline's steps, one at a time (admin and beat run the same services)."""

import json

from django.core.management.base import BaseCommand, CommandError

from outreach import steps
from outreach.serp import SerpParseError
from outreach.sheets import SheetError
from outreach.yandex import YandexError

# What an operator can fix: said in one line, never a traceback.
OPERATOR_ERRORS = (SheetError, FileNotFoundError, SerpParseError, YandexError, steps.StepError, ValueError)


class Command(BaseCommand):
    help = (
        "Outreach pipeline steps: sync-sheet, search, poll, dedupe, enrich, generate, queue, deliver, run-once; "
        "import-serp FILE [--query TEXT]; enrich --url URL --dry-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("step", choices=[*steps.STEPS, "import-serp", "run-once"])
        parser.add_argument("file", nargs="?", help="import-serp: a saved Yandex XML response")
        parser.add_argument("--query", default=None, help="import-serp: the query text the file answers")
        parser.add_argument("--url", default=None, help="enrich: scan this one site instead of the companies")
        parser.add_argument("--dry-run", action="store_true", help="enrich --url: print what it finds, store nothing")
        parser.add_argument("--batch-tag", default=None, help="sync-sheet: only rows with this batch tag")

    def handle(self, *args, step, file, query, url, dry_run, batch_tag, **options):
        try:
            if step == "import-serp":
                counts = self.import_serp(file, query)
            elif step == "enrich" and url:
                counts = self.scan_one(url, dry_run)
            elif step == "run-once":
                counts = steps.run_once(batch_tag=batch_tag)
            else:
                counts = steps.run_step(step, batch_tag=batch_tag)
        except OPERATOR_ERRORS as exc:
            raise CommandError(f"outreach {step}: {exc}") from None
        self.stdout.write(json.dumps(counts, ensure_ascii=False, default=str, indent=2 if url else None))
        if step == "run-once" and any("error" in outcome for outcome in counts.values()):
            failed = ", ".join(f"{name}: {outcome['error']}" for name, outcome in counts.items() if "error" in outcome)
            raise CommandError(f"outreach run-once: {failed}")

    def import_serp(self, file, query):
        from outreach.services.ingest import import_serp_file

        if not file:
            raise CommandError("outreach import-serp needs FILE: a saved Yandex XML response")
        return import_serp_file(path=file, query_text=query).counts()

    def scan_one(self, url, dry_run):
        from outreach.enrichment import scan_site

        if not dry_run:
            raise CommandError("outreach enrich --url only scans (add --dry-run); companies are enriched without --url")
        return scan_site(url).as_json()
