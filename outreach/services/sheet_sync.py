"""Niches sheet → SERP queries, and the outcome written back to the sheet.

Columns are found by their header, never by position (the original broke when
someone moved a column). Rows with no niche, or whose status is `done`, are
skipped. A problem with one row is written to that row's `last_error` and the
others go on; a sheet without a `niche` column is refused as a whole.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import NicheRow, SearchBatchLog, SerpQuery
from ..queries import build_queries
from ..sheets import SheetError, SheetsGateway, get_sheets_gateway

INPUT_COLUMNS = ("niche", "city", "country", "batch_tag", "status")
FIELD_MAX = {name: SerpQuery._meta.get_field(name).max_length for name in ("niche", "city", "country", "batch_tag")}
WRITE_BACK = (
    "status",
    "generated",
    "inserted",
    "duplicates",
    "first_scheduled_for",
    "last_scheduled_for",
    "last_error",
)


@dataclass
class SheetSyncResult:
    rows: int = 0
    skipped: int = 0
    generated: int = 0
    inserted: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "rows": self.rows,
            "skipped": self.skipped,
            "generated": self.generated,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "errors": len(self.errors),
        }


def _header(rows: list[list[str]]) -> dict[str, int]:
    if not rows:
        raise SheetError("the sheet is empty: row 1 must hold the column names (niche, city, country, ...)")
    names = {name.strip().lower().replace(" ", "_"): index for index, name in enumerate(rows[0]) if name.strip()}
    if "niche" not in names:
        raise SheetError("the sheet has no 'niche' column in row 1; nothing was read")
    return names


def _cell(row: list[str], names: dict[str, int], name: str) -> str:
    index = names.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def sync_sheet(
    *, gateway: SheetsGateway | None = None, now: datetime | None = None, batch_tag: str | None = None
) -> SheetSyncResult:
    """Every row (or only those tagged `batch_tag`) into queries; the outcome written back."""
    gateway = gateway or get_sheets_gateway()
    now = now or timezone.now()
    rows = gateway.read_rows()
    names = _header(rows)
    writes: list[tuple[int, int, str]] = []
    # Write-back columns the sheet lacks are added after the last header, so nothing is overwritten.
    for name in WRITE_BACK:
        if name not in names:
            names[name] = max(names.values()) + 1
            writes.append((1, names[name] + 1, name))
    result = SheetSyncResult()
    log = SearchBatchLog.objects.create(kind="sheet-sync", batch_tag=batch_tag or "")
    for number, row in enumerate(rows[1:], start=2):
        niche = _cell(row, names, "niche")
        skip_tag = batch_tag is not None and _cell(row, names, "batch_tag") != batch_tag
        if skip_tag or not niche or _cell(row, names, "status").lower() == "done":
            result.skipped += 1
            continue
        result.rows += 1
        # The running offset spreads the whole sheet over the window, not each row from its start.
        outcome = _sync_row(number, row, names, niche, now, result, offset=result.generated)
        # Only cells that change: a second run over the same sheet writes nothing.
        writes += [
            (number, names[name] + 1, str(value))
            for name, value in outcome.items()
            if _cell(row, names, name) != str(value)
        ]
    if writes:
        gateway.write_cells(writes)
    log.finished_at = timezone.now()
    log.counts = result.counts()
    log.errors = result.errors
    log.save(update_fields=["finished_at", "counts", "errors"])
    return result


def _sync_row(
    number: int, row: list[str], names: dict, niche: str, now: datetime, result: SheetSyncResult, *, offset: int
) -> dict:
    values = {"niche": niche, **{n: _cell(row, names, n) for n in ("city", "country", "batch_tag")}}
    niche_row, _ = NicheRow.objects.update_or_create(
        sheet_row=number, defaults={n: v[: FIELD_MAX[n]] for n, v in values.items()}
    )
    city, country, tag = values["city"], values["country"], values["batch_tag"]
    try:
        for name, value in values.items():
            if len(value) > FIELD_MAX[name]:
                raise ValueError(f"{name} is {len(value)} characters long; at most {FIELD_MAX[name]} fit")
        specs = build_queries(
            niche=niche,
            city=city,
            country=country,
            batch_tag=tag,
            now=now,
            offset=offset,
            night_only=settings.YANDEX_ENFORCE_NIGHT_WINDOW,
        )
        inserted = duplicates = 0
        with transaction.atomic():
            for spec in specs:
                try:
                    with transaction.atomic():
                        SerpQuery.objects.create(
                            text=spec.text,
                            lr=spec.lr,
                            hash=spec.hash,
                            scheduled_for=spec.scheduled_for,
                            niche=niche,
                            city=city,
                            country=country,
                            batch_tag=tag,
                            niche_row=niche_row,
                        )
                    inserted += 1
                except IntegrityError:  # the same text and region: queued before
                    duplicates += 1
    except Exception as exc:  # one row's problem stays on that row
        message = f"{type(exc).__name__}: {exc}"
        result.errors.append(f"row {number}: {message}")
        niche_row.last_error = message
        niche_row.status = "error"
        niche_row.save(update_fields=["last_error", "status"])
        return {"status": "error", "last_error": message}
    # Totals from the database, not this run: re-running the sheet reports the same numbers.
    mine = SerpQuery.objects.filter(niche_row=niche_row)
    own_hashes = set(mine.values_list("hash", flat=True))
    times = list(mine.values_list("scheduled_for", flat=True))
    niche_row.status = row_status(mine)
    niche_row.generated = len(specs)
    niche_row.inserted = len(own_hashes)
    niche_row.duplicates = sum(1 for spec in specs if spec.hash not in own_hashes)
    niche_row.first_scheduled_for = min(times, default=None)
    niche_row.last_scheduled_for = max(times, default=None)
    # A failed query's reason is the row's error; a row that succeeded has none.
    failed = mine.filter(status=SerpQuery.Status.FAILED).exclude(last_error="").order_by("pk").first()
    niche_row.last_error = failed.last_error if failed else ""
    niche_row.synced_at = timezone.now()
    niche_row.save()
    result.generated += len(specs)
    result.inserted += inserted
    result.duplicates += duplicates
    return {
        "status": niche_row.status,
        "generated": niche_row.generated,
        "inserted": niche_row.inserted,
        "duplicates": niche_row.duplicates,
        "first_scheduled_for": _iso(niche_row.first_scheduled_for),
        "last_scheduled_for": _iso(niche_row.last_scheduled_for),
        "last_error": niche_row.last_error,
    }


def row_status(queries) -> str:
    """queued → searching → completed (or failed, when any query failed), from the row's queries."""
    statuses = set(queries.values_list("status", flat=True))
    if not statuses:
        return "no queries"
    if statuses <= {SerpQuery.Status.COMPLETED}:
        return "completed"
    if SerpQuery.Status.FAILED in statuses and not statuses & {SerpQuery.Status.PENDING, SerpQuery.Status.IN_PROGRESS}:
        return "failed"
    if statuses == {SerpQuery.Status.PENDING}:
        return "queued"
    return "searching"
