"""Export a group's members into the database, page by page, resumable.

The plain listing comes first. Telegram stops it near 10,000 members for
non-admins, so when the group is larger a sweep of search queries follows
(letters and digits, a prefix extended whenever a query comes back capped).
After every page the members and the position are committed together
(ExportCheckpoint), so a FloodWait or a crash costs one page, not the export.
Leaves are recorded only by an export that saw (nearly) everyone.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from leadops.jobs import JobReporter

from ..gateway import PAGE_SIZE, GroupInfo, TelegramError, TelegramGateway
from ..models import ExportCheckpoint, Membership, TelegramGroup
from .gender import refresh_genders
from .stats import recompute_offline_stats
from .writer import write_participants

LATIN = "abcdefghijklmnopqrstuvwxyz"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
DIGITS = "0123456789"
FIRST_QUERIES = list(LATIN + CYRILLIC + DIGITS)
FLUSH_ROWS = 5000  # members per write: big enough for set-based speed, small enough to lose little
MAX_QUERY_LENGTH = 6  # deeper prefixes find almost nobody new and cost many requests
# Leaves are recorded only when the export saw at least this share of the group:
# a listing cut short must not turn the people it missed into "left".
LEAVE_COVERAGE = 0.95


class MembersHidden(TelegramError):
    """The group hides its member list: only admins come back."""


@dataclass
class ExportResult:
    fetched: int
    participants_count: int | None
    left: int

    @property
    def coverage(self) -> float | None:
        if not self.participants_count:
            return None
        return min(1.0, self.fetched / self.participants_count)


def _extensions(prefix: str, seen_words: set[str] | None) -> list[str]:
    """Longer queries to try after `prefix` came back capped.

    The capped answer is a sample of who matches, so the letters that follow the
    prefix in it are the ones worth asking about; that turns ~37 blind queries per
    capped prefix into the few that exist. Without a sample (a query resumed in
    the middle) every letter of the prefix's script is tried.
    """
    if seen_words is not None:
        following = {w[len(prefix)] for w in seen_words if len(w) > len(prefix) and w.startswith(prefix)}
    else:
        following = set(CYRILLIC if prefix[-1] in CYRILLIC else LATIN + DIGITS + "_")
    return [prefix + c for c in sorted(following)]


def _words(participant) -> set[str]:
    return set(
        " ".join(filter(None, [participant.first_name, participant.last_name, participant.username])).lower().split()
    )


class GroupExport:
    def __init__(self, *, gateway: TelegramGateway, group: TelegramGroup, job: JobReporter, limit: int | None = None):
        self.gateway = gateway
        self.group = group
        self.job = job
        self.limit = limit

    def run(self) -> ExportResult:
        info = self.gateway.get_group(self.group.telegram_id or self.group.username)
        self._update_group(info)
        checkpoint, created = ExportCheckpoint.objects.get_or_create(
            group=self.group, defaults={"run_started_at": timezone.now()}
        )
        self.checkpoint = checkpoint
        self.fetched = self._fetched_so_far()
        if not created:
            self.job.log(f"resuming: {checkpoint.phase} at offset {checkpoint.offset}, {self.fetched} members so far")
        self.job.set_total(info.participants_count)
        self.job.job.progress_done = self.fetched

        self._buffer: dict[int, object] = {}
        try:
            self._phases(info)
        except BaseException:
            self._flush()  # keep what was fetched before the FloodWait (or crash) with its position
            raise
        return self._finish(info)

    def _phases(self, info: GroupInfo) -> None:
        checkpoint = self.checkpoint
        if checkpoint.phase == ExportCheckpoint.Phase.LISTING:
            listed, admins_only = self._listing(info)
            if self._hidden(info, listed, admins_only):
                self._finish(info, hidden=True)
                raise MembersHidden(
                    f"{info.title}: the member list is hidden, only {listed} admins are visible "
                    f"of {info.participants_count}; nobody was marked as left"
                )
            if self._wants_more(info):
                self.job.log(f"the listing stopped at {listed} of {info.participants_count}: sweeping search queries")
                self._save(phase=ExportCheckpoint.Phase.SEARCH, offset=0, pending_queries=FIRST_QUERIES)
        if checkpoint.phase == ExportCheckpoint.Phase.SEARCH:
            self._sweep(info)

    # --- phases -----------------------------------------------------------
    def _listing(self, info: GroupInfo) -> tuple[int, bool]:
        admins_only = True
        while not self._limit_reached():
            page = self.gateway.get_participants_page(info.id, offset=self.checkpoint.offset, limit=PAGE_SIZE)
            if not page.participants:
                break
            admins_only = admins_only and all(p.is_admin for p in page.participants)
            self._write(page.participants, offset=self.checkpoint.offset + len(page.participants))
        return self.checkpoint.offset, admins_only

    def _sweep(self, info: GroupInfo) -> None:
        while self.checkpoint.pending_queries and self._wants_more(info):
            query = self.checkpoint.pending_queries[0]
            count = None
            seen_words = set() if self.checkpoint.offset == 0 else None
            while True:
                page = self.gateway.get_participants_page(
                    info.id, offset=self.checkpoint.offset, limit=PAGE_SIZE, query=query
                )
                count = page.count
                if not page.participants:
                    break
                if seen_words is not None:
                    seen_words.update(w for p in page.participants for w in _words(p))
                self._write(page.participants, offset=self.checkpoint.offset + len(page.participants))
                if count is not None and self.checkpoint.offset >= count:
                    break  # that was the last page: no need to ask for an empty one
            capped = count is not None and self.checkpoint.offset < count
            more = _extensions(query, seen_words) if capped and len(query) < MAX_QUERY_LENGTH else []
            self._save(
                offset=0,
                pending_queries=self.checkpoint.pending_queries[1:] + more,
                queries_done=self.checkpoint.queries_done + 1,
            )
            self.job.count("search_queries")

    # --- steps ------------------------------------------------------------
    def _write(self, participants, *, offset: int) -> None:
        # Pages are buffered and written FLUSH_ROWS at a time, with the position they
        # lead to: per-page transactions cost more than the rows themselves. Bots are
        # stored too (flagged), so coverage compares like with like; outputs and
        # candidate lists leave them out.
        for person in participants:
            self._buffer[person.id] = person
        self.checkpoint.offset = offset
        self.job.count("pages")
        if len(self._buffer) >= FLUSH_ROWS:
            self._flush()

    def _save(self, **fields) -> None:
        """Move the position; it is written with the next flush, together with the rows it covers."""
        for name, value in fields.items():
            setattr(self.checkpoint, name, value)

    def _flush(self) -> None:
        if self.checkpoint is None:
            return
        with transaction.atomic():
            new = write_participants(
                group=self.group,
                participants=list(self._buffer.values()),
                seen_at=timezone.now(),
                run_started_at=self.checkpoint.run_started_at,
            )
            self.checkpoint.save()
        self._buffer.clear()
        self.fetched += new
        self.job.advance(new)

    def _fetched_so_far(self) -> int:
        return Membership.objects.filter(group=self.group, last_seen_at__gte=self.checkpoint.run_started_at).count()

    def _reached(self, target: int) -> bool:
        # The buffer holds at most that many new people: only when it might be
        # enough is it worth flushing to know exactly.
        if self.fetched + len(self._buffer) < target:
            return False
        self._flush()
        return self.fetched >= target

    def _limit_reached(self) -> bool:
        return self.limit is not None and self._reached(self.limit)

    def _wants_more(self, info: GroupInfo) -> bool:
        return not self._limit_reached() and not self._reached(info.participants_count or 0)

    @staticmethod
    def _hidden(info: GroupInfo, listed: int, admins_only: bool) -> bool:
        return admins_only and listed > 0 and (info.participants_count or 0) > listed

    def _update_group(self, info: GroupInfo) -> None:
        self.group.telegram_id = info.id
        self.group.title = info.title
        self.group.username = info.username or ""
        self.group.participants_count = info.participants_count
        self.group.save(update_fields=["telegram_id", "title", "username", "participants_count"])

    def _finish(self, info: GroupInfo, hidden: bool = False) -> ExportResult:
        self._flush()
        result = ExportResult(fetched=self.fetched, participants_count=info.participants_count, left=0)
        with transaction.atomic():
            if not hidden and (result.coverage is None or result.coverage >= LEAVE_COVERAGE):
                result.left = Membership.objects.filter(
                    group=self.group, left_at__isnull=True, last_seen_at__lt=self.checkpoint.run_started_at
                ).update(left_at=timezone.now())
            elif not hidden:
                self.job.log(f"coverage {result.coverage:.1%} is too low to record leaves: nobody marked as left")
            self.group.last_exported_at = timezone.now()
            self.group.last_export_coverage = result.coverage
            self.group.members_hidden = hidden
            self.group.save(update_fields=["last_exported_at", "last_export_coverage", "members_hidden"])
            if self.group.kind == TelegramGroup.Kind.EVENT and not hidden:
                recompute_offline_stats(group=self.group)
            self.checkpoint.delete()
            self.checkpoint = None  # finished: nothing left to flush
        self._report(result, hidden=hidden)
        # New and renamed members have no gender estimate yet (the writer leaves "").
        estimated = refresh_genders()
        if estimated:
            self.job.log(f"gender estimated for {estimated} users")
        return result

    def _report(self, result: ExportResult, hidden: bool) -> None:
        self.job.job.counters.update(
            fetched=result.fetched,
            participants_count=result.participants_count or 0,
            coverage_pct=round(100 * result.coverage, 1) if result.coverage is not None else 0,
            left=result.left,
        )
        self.job.flush()
        if not hidden:
            coverage = f"{result.coverage:.1%}" if result.coverage is not None else "n/a"
            self.job.log(
                f"done: {result.fetched} of {result.participants_count} members ({coverage}), {result.left} left"
            )


def export_group(*, gateway: TelegramGateway, group: TelegramGroup, job: JobReporter, limit: int | None = None):
    return GroupExport(gateway=gateway, group=group, job=job, limit=limit).run()
