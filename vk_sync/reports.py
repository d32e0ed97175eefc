"""The report of one VK community (read-only selectors), rendered by `leadops.reports`.

Members are the subscriptions with `is_member`; joins and leaves are the
membership events the subscriber syncs record (a community's first sync records
no joins: those people were there before anyone looked), per day over the last
`DAYS` days, and the member line is walked back from today's count with them.

VK and Telegram share no user id, so the overlap with the reference is a partial,
name-based match, as in `vk_sync.comparison`: a VK member whose chosen short name
equals (case-insensitively) the username of a Telegram user flagged `in_reference`.
VK has no offline events; the top users are the people with the most likes,
comments and reposts on the community's posts.
"""

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Lower, TruncDate

from leadops.models import StoredReport
from leadops.reports import Report, ReportSource, daily_series, members_over_time
from telegram_sources.comparison import jaccard
from telegram_sources.models import TelegramUser
from telegram_sources.reports import DAYS, GENDER_LABELS, GENDER_SPLIT, window

from .comparison import vk_handle, vk_members
from .models import VkCommunity, VkInteraction, VkMembershipEvent

TOP_USERS = 20
TOP_COLUMNS = ["vk_id", "first_name", "last_name", "domain", "likes", "comments", "reposts", "total"]
TOP_TABLE = "Top 20 users by likes, comments and reposts"
OVERLAP_SPLIT = "Overlap with the reference (partial match by name)"
NOTE_MEMBERS = (
    "Members are the subscribers the last subscriber sync found. Joins and leaves are what the syncs saw change "
    "between two runs, dated by the sync; the first sync of a community records no joins."
)
NOTE_PARTIAL = (
    "Partial match: a VK member counts as in the reference when their VK short name equals, case-insensitively, "
    "the username of a Telegram user flagged in_reference (VK's default id123 names never match). People without "
    "a Telegram username or a chosen VK short name, or who use different names, are not matched, so the overlap "
    "is a lower bound."
)
NOTE_TOP = (
    "VK has no offline events: the top users are ranked by likes, comments and reposts on the community's posts, "
    "as far as the interactions sync has fetched them."
)


def per_day(community: VkCommunity, kind: str, since) -> dict:
    rows = (
        VkMembershipEvent.objects.filter(community=community, kind=kind, at__gte=since)
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def gender_split(community: VkCommunity) -> list[tuple[str, int]]:
    counts = dict(vk_members(community).values_list("user__gender").annotate(n=Count("pk")).order_by())
    return [(label, counts.get(value, 0)) for value, label in GENDER_LABELS]


def reference_overlap(community: VkCommunity, members: int) -> tuple[int, int, int, float] | None:
    """(matched VK members, reference size, only in the reference, Jaccard), or None without a reference snapshot."""
    reference = TelegramUser.objects.filter(in_reference=True, is_bot=False)
    size = reference.count()
    if not size:
        return None
    named = reference.exclude(username="").annotate(handle=Lower("username")).filter(handle=OuterRef("h"))
    matched = vk_members(community).annotate(h=vk_handle()).filter(Exists(named)).count()
    only_reference = max(0, size - matched)
    return matched, size, only_reference, jaccard(matched, members + only_reference)


def top_users(community: VkCommunity, limit: int = TOP_USERS) -> list[list]:
    rows = (
        VkInteraction.objects.filter(post__community=community)
        .values("user_id")
        .annotate(
            first_name=F("user__first_name"),
            last_name=F("user__last_name"),
            domain=F("user__domain"),
            likes=Count("pk", filter=Q(kind=VkInteraction.Kind.LIKE)),
            comments=Count("pk", filter=Q(kind=VkInteraction.Kind.COMMENT)),
            reposts=Count("pk", filter=Q(kind=VkInteraction.Kind.REPOST)),
            total=Count("pk"),
        )
        .order_by("-total", "user_id")[:limit]
    )
    return [[row["user_id"], *(row[column] for column in TOP_COLUMNS[1:])] for row in rows]


def community_report(*, community: VkCommunity, days: int = DAYS) -> Report:
    start, today, since = window(days)
    current = vk_members(community).count()
    joins = daily_series(per_day(community, VkMembershipEvent.Kind.JOIN, since), start=start, end=today)
    leaves = daily_series(per_day(community, VkMembershipEvent.Kind.LEAVE, since), start=start, end=today)
    report = Report(
        title=f"VK community report: {community}",
        subtitle=" · ".join(part for part in (community.screen_name, f"club{community.pk}") if part),
        period=f"{start.isoformat()}..{today.isoformat()}",
        metrics=[
            ("Members now", current),
            (f"Joins in the last {days} days", sum(n for _, n in joins)),
            (f"Leaves in the last {days} days", sum(n for _, n in leaves)),
            ("Members count (VK)", community.members_count),
        ],
        series={
            "members": members_over_time(current=current, joins=joins, leaves=leaves),
            "joins": joins,
            "leaves": leaves,
        },
        charts=[("Members at the end of each day", ["members"]), ("Joins and leaves per day", ["joins", "leaves"])],
        splits={GENDER_SPLIT: gender_split(community)},
        tables={TOP_TABLE: (TOP_COLUMNS, top_users(community))},
        notes=[NOTE_MEMBERS, NOTE_TOP],
    )
    overlap = reference_overlap(community, current)
    if overlap is None:
        report.metrics.append(("Overlap with the reference", "no reference data"))
        report.notes.append("No reference snapshot yet (nobody is flagged in_reference): nothing to match against.")
        return report
    matched, size, only_reference, index = overlap
    report.metrics.append(("Reference snapshot members", size))
    report.metrics.append(("Jaccard index with the reference (partial)", index))
    report.splits[OVERLAP_SPLIT] = [
        ("in both", matched),
        ("only in this community", current - matched),
        ("only in the reference", only_reference),
    ]
    report.notes.append(NOTE_PARTIAL)
    return report


REPORT_SOURCES = [
    ReportSource(
        kind=StoredReport.Kind.VK,
        objects=lambda: VkCommunity.objects.order_by("pk"),
        build=lambda community: community_report(community=community),
    ),
]
