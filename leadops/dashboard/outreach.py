"""The Outreach card: the funnel (queries, companies, messages), each mailbox's share of its
daily cap, and sends per day. "Today" and the days are OUTREACH_TIMEZONE's, as the caps'."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.svg_charts import svg_line_chart

from . import Card, CardSpec, Snapshot, Stat, admin_url

QUERIES_PERM = "outreach.view_serpquery"
COMPANIES_PERM = "outreach.view_company"
MESSAGES_PERM = "outreach.view_outreachmessage"
MAILBOXES_PERM = "outreach.view_sendermailbox"
PERMS = (QUERIES_PERM, COMPANIES_PERM, MESSAGES_PERM, MAILBOXES_PERM)
DAYS = 14


@dataclass
class MailboxRow:
    name: str
    url: str
    sent_today: int
    daily_cap: int
    active: bool

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.sent_today / self.daily_cap)) if self.daily_cap else 100


@dataclass
class OutreachData:
    query_stats: list[Stat] = field(default_factory=list)
    company_stats: list[Stat] = field(default_factory=list)
    message_stats: list[Stat] = field(default_factory=list)
    mailboxes: list[MailboxRow] = field(default_factory=list)
    show_mailboxes: bool = False
    chart: str = ""
    sent_days: int = 0  # sends over the chart's days
    empty: bool = False  # nothing in the pipeline at all
    days: int = DAYS


def grouped(queryset, statuses=None) -> dict[str, int]:
    """{status: count} in one GROUP BY; with `statuses`, only those (a range on a (status, ...) index)."""
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    return {row["status"]: row["n"] for row in queryset.values("status").annotate(n=Count("pk")).order_by()}


def query_stats() -> list[Stat]:
    from outreach.models import SerpQuery

    waiting = grouped(SerpQuery.objects, [SerpQuery.Status.PENDING, SerpQuery.Status.IN_PROGRESS])
    changelist = "outreach_serpquery_changelist"
    return [
        Stat(
            "queries_pending",
            gettext("queries pending"),
            waiting.get("pending", 0),
            admin_url(changelist, status__exact="pending"),
        ),
        Stat(
            "queries_running",
            gettext("queries running"),
            waiting.get("in_progress", 0),
            admin_url(changelist, status__exact="in_progress"),
        ),
    ]


def company_stats() -> list[Stat]:
    # Company has no status index: a GROUP BY reads the table. Fine at the size a lead list
    # reaches (one row per site found); an index on status would make it an index-only scan.
    from outreach.models import Company

    counts = grouped(Company.objects)
    changelist = "outreach_company_changelist"
    return [
        Stat(
            f"companies_{status}",
            gettext("companies %(status)s") % {"status": str(label).lower()},
            counts.get(status, 0),
            admin_url(changelist, status__exact=status),
        )
        for status, label in Company.Status.choices
    ]


def mailbox_days(mailbox_ids: list[int], *, since: datetime, tz) -> dict[int, dict[date, int]]:
    """{mailbox: {local day: sent}} in one query: `mailbox IN (...) AND sent_at >= since` is a range
    per mailbox on the outreachmessage_sent index (mailbox, sent_at)."""
    from outreach.models import OutreachMessage

    rows = (
        OutreachMessage.objects.filter(mailbox_id__in=mailbox_ids, sent_at__gte=since)
        .annotate(day=TruncDate("sent_at", tzinfo=tz))
        .values("mailbox_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found: dict[int, dict[date, int]] = defaultdict(dict)
    for row in rows:
        found[row["mailbox_id"]][row["day"]] = row["n"]
    return found


def build(snap: Snapshot) -> Card:
    from outreach.models import OutreachMessage, SenderMailbox
    from outreach.window import window_from_settings

    data = OutreachData()
    if snap.can(QUERIES_PERM):
        data.query_stats = query_stats()
    if snap.can(COMPANIES_PERM):
        data.company_stats = company_stats()
    can_messages, can_mailboxes = snap.can(MESSAGES_PERM), snap.can(MAILBOXES_PERM)
    per_day: dict[int, dict[date, int]] = {}
    window = window_from_settings()
    today = window.local_date(snap.now)
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    if can_messages or can_mailboxes:
        mailboxes = list(SenderMailbox.objects.order_by("route", "name").values("pk", "name", "daily_cap", "active"))
        since, _ = window.day_bounds(days[0])
        per_day = mailbox_days([box["pk"] for box in mailboxes], since=since, tz=window.tz) if mailboxes else {}
        if can_mailboxes:
            data.show_mailboxes = True
            data.mailboxes = [
                MailboxRow(
                    name=box["name"],
                    url=admin_url("outreach_sendermailbox_change", box["pk"]),
                    sent_today=per_day.get(box["pk"], {}).get(today, 0),
                    daily_cap=box["daily_cap"],
                    active=box["active"],
                )
                for box in mailboxes
            ]
    if can_messages:
        statuses = OutreachMessage.Status
        counts = grouped(
            OutreachMessage.objects, [statuses.SCHEDULED, statuses.SENDING, statuses.FAILED, statuses.NEEDS_REVIEW]
        )
        changelist = "outreach_outreachmessage_changelist"
        sent_today = sum(by_day.get(today, 0) for by_day in per_day.values())
        start, end = window.day_bounds(today)
        today_filter = {"sent_at__gte": start.isoformat(), "sent_at__lt": end.isoformat()}
        data.message_stats = [
            Stat(
                "messages_scheduled",
                gettext("scheduled"),
                counts.get("scheduled", 0),
                admin_url(changelist, status__exact="scheduled"),
            ),
            Stat(
                "messages_sending",
                gettext("sending now"),
                counts.get("sending", 0),
                admin_url(changelist, status__exact="sending"),
            ),
            Stat("messages_sent_today", gettext("sent today"), sent_today, admin_url(changelist, **today_filter)),
            Stat(
                "messages_failed",
                gettext("failed"),
                counts.get("failed", 0),
                admin_url(changelist, status__exact="failed"),
                "bad" if counts.get("failed") else "",
            ),
            Stat(
                "messages_needs_review",
                gettext("need review"),
                counts.get("needs_review", 0),
                admin_url(changelist, status__exact="needs_review"),
                "warn" if counts.get("needs_review") else "",
            ),
        ]
        totals = {day: sum(by_day.get(day, 0) for by_day in per_day.values()) for day in days}
        data.sent_days = sum(totals.values())
        data.chart = mark_safe(  # svg_charts escapes every label it draws
            svg_line_chart(
                {gettext("sent"): list(totals.items())}, title=gettext("Emails sent per day"), width=340, height=120
            )
        )
    shown = [*data.query_stats, *data.company_stats, *data.message_stats]
    data.empty = not data.mailboxes and not data.sent_days and not any(stat.value for stat in shown)
    return Card(
        name="outreach",
        title=gettext("Outreach"),
        url=_url(snap),
        template="admin/leadops/dashboard/outreach.html",
        data=data,
    )


def _url(snap: Snapshot) -> str:
    if snap.can(MESSAGES_PERM):
        return admin_url("outreach_outreachmessage_changelist")
    return admin_url("app_list", "outreach")


SPEC = CardSpec(name="outreach", title=_("Outreach"), visible=lambda snap: snap.can(*PERMS), build=build, url=_url)
