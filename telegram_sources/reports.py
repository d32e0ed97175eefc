"""The report of one Telegram group (read-only selectors), rendered by `leadops.reports`.

Members are the group's current, non-bot memberships (`comparison.current_members`:
the people an export saw last time, as the comparisons and the member export count
them). A join is the day an export first saw a member (`first_seen_at`), a leave the
day one found them gone (`left_at`); both per day over the last `DAYS` days, counted
in the database (TruncDate + COUNT), and the member line is walked back from today's
count with them (`leadops.reports.members_over_time`).
"""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from leadops.gender import FEMALE, MALE, UNKNOWN
from leadops.models import StoredReport
from leadops.reports import Report, ReportSource, daily_series, members_over_time

from .comparison import compare_with_reference, current_members
from .models import Membership, TelegramGroup, TelegramUser

DAYS = 90
TOP_USERS = 20
NOT_COMPUTED = "not computed"
GENDER_LABELS = ((MALE, MALE), (FEMALE, FEMALE), (UNKNOWN, UNKNOWN), ("", NOT_COMPUTED))
TOP_COLUMNS = [
    "telegram_id",
    "username",
    "first_name",
    "last_name",
    "offline_cnt",
    "last_offline_at",
    "in_reference",
]
TOP_TABLE = "Top 20 members by offline events"
OVERLAP_SPLIT = "Overlap with the reference"
GENDER_SPLIT = "Gender of current members"
NOTE_MEMBERS = (
    "Members are the people the last export of the group found (bots excluded). A join is the day an export first "
    "saw someone, so the group's first export counts everyone it found as joining that day; a leave is the day an "
    "export no longer found them."
)
NOTE_HIDDEN = "Telegram shows only the admins of this group: its member list, and so every number here, is partial."


def window(days: int = DAYS) -> tuple[date, date, datetime]:
    """(first day, today, the moment the first day starts) in the current time zone."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    return start, today, timezone.make_aware(datetime.combine(start, time.min))


def per_day(memberships: QuerySet, field: str, since: datetime) -> dict[date, int]:
    rows = (
        memberships.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def group_memberships(group: TelegramGroup) -> QuerySet:
    """Every non-bot membership of the group, current or ended: the rows joins and leaves are counted on."""
    bots = TelegramUser.objects.filter(pk=OuterRef("user_id"), is_bot=True)
    return Membership.objects.filter(group=group).filter(~Exists(bots))


def gender_split(group: TelegramGroup) -> list[tuple[str, int]]:
    counts = dict(current_members(group).values_list("user__gender").annotate(n=Count("pk")).order_by())
    return [(label, counts.get(value, 0)) for value, label in GENDER_LABELS]


def top_members(group: TelegramGroup, limit: int = TOP_USERS) -> list[list]:
    """Current members by offline_cnt, then the latest offline event (the seeders' order)."""
    member = Membership.objects.filter(group=group, left_at__isnull=True, user=OuterRef("pk"))
    users = TelegramUser.objects.filter(Exists(member), is_bot=False).order_by(
        F("offline_cnt").desc(), F("last_offline_at").desc(nulls_last=True), F("telegram_id").asc(nulls_last=True)
    )
    return [list(row) for row in users.values_list(*TOP_COLUMNS)[:limit]]


def group_report(*, group: TelegramGroup, days: int = DAYS) -> Report:
    start, today, since = window(days)
    memberships = group_memberships(group)
    current = current_members(group).count()
    joins = daily_series(per_day(memberships, "first_seen_at", since), start=start, end=today)
    leaves = daily_series(per_day(memberships, "left_at", since), start=start, end=today)
    report = Report(
        title=f"Telegram group report: {group}",
        subtitle=" · ".join(
            part
            for part in (
                "Telegram group",
                f"@{group.username}" if group.username else "",
                f"id {group.telegram_id}" if group.telegram_id else "",
                group.get_kind_display(),
                f"event on {group.event_date.isoformat()}" if group.event_date else "",
            )
            if part
        ),
        period=f"{start.isoformat()}..{today.isoformat()}",
        metrics=[
            ("Members now", current),
            (f"Joins in the last {days} days", sum(n for _, n in joins)),
            (f"Leaves in the last {days} days", sum(n for _, n in leaves)),
            ("Participants count (Telegram)", group.participants_count),
            ("Last export", group.last_exported_at),
            ("Last export coverage", group.last_export_coverage),
        ],
        series={
            "members": members_over_time(current=current, joins=joins, leaves=leaves),
            "joins": joins,
            "leaves": leaves,
        },
        charts=[("Members at the end of each day", ["members"]), ("Joins and leaves per day", ["joins", "leaves"])],
        splits={GENDER_SPLIT: gender_split(group)},
        tables={TOP_TABLE: (TOP_COLUMNS, top_members(group))},
        notes=[NOTE_MEMBERS],
    )
    if group.members_hidden:
        report.notes.append(NOTE_HIDDEN)
    add_reference_overlap(report, group)
    return report


def add_reference_overlap(report: Report, group: TelegramGroup) -> None:
    try:
        found = compare_with_reference(group=group)
    except ImproperlyConfigured:
        report.metrics.append(("Overlap with the reference", "no reference data"))
        report.notes.append(
            "No reference snapshot yet (nobody is flagged in_reference): refresh or import the reference group."
        )
        return
    report.metrics.append(("Reference snapshot members", found.b_count))
    report.metrics.append(("Jaccard index with the reference", found.jaccard))
    report.splits[OVERLAP_SPLIT] = [
        ("in both", found.overlap),
        ("only in this group", found.only_a),
        ("only in the reference", found.only_b),
    ]
    report.notes.append(f"Reference: {found.b_label}, matched by Telegram user.")


REPORT_SOURCES = [
    ReportSource(
        kind=StoredReport.Kind.TELEGRAM,
        objects=lambda: TelegramGroup.objects.order_by("pk"),
        build=lambda group: group_report(group=group),
    ),
]
