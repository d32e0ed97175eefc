"""The VK card: per community, each list's last sync (result and counts) and a small chart of
joins and leaves per day over the last two weeks."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from leadops.svg_charts import svg_line_chart

from . import Card, CardSpec, Snapshot, Stat, admin_url

PERM = "vk_sync.view_vkcommunity"
EVENTS_PERM = "vk_sync.view_vkmembershipevent"
MAX_COMMUNITIES = 12  # the card stays a card; the rest are one click away
DAYS = 14


@dataclass
class SyncLine:
    list_name: str
    result: str  # "ok", "partial", "aborted", ... as the sync wrote it
    text: str  # vk_sync.admin.describe_sync: "subscribers: ok 2 h ago (1,200 members, 5 joined, 3 left)"


@dataclass
class CommunityRow:
    pk: int
    name: str
    url: str
    members_count: int | None
    syncs: list[SyncLine]
    joins: int = 0  # over DAYS
    leaves: int = 0
    events_url: str = ""
    chart: str = ""  # inline SVG


@dataclass
class VkData:
    communities: list[CommunityRow] = field(default_factory=list)
    total: int = 0
    stats: list[Stat] = field(default_factory=list)
    more_url: str = ""
    days: int = DAYS


def list_order() -> dict[str, int]:
    from vk_sync.lists import CONTRACT

    return {name: n for n, name in enumerate(CONTRACT)}


def sync_lines(last_sync: dict, now: datetime) -> list[SyncLine]:
    """The community's `last_sync` entries in the lists' contract order (unknown lists last)."""
    from vk_sync.admin import describe_sync

    order = list_order()
    names = sorted(last_sync, key=lambda name: (order.get(name, len(order)), name))
    return [
        SyncLine(
            list_name=name,
            result=str(last_sync[name].get("result", "?")),
            text=describe_sync(name, last_sync[name], now),
        )
        for name in names
        if isinstance(last_sync[name], dict)
    ]


def day_range(today: date, days: int = DAYS) -> list[date]:
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def events_per_day(community_ids: list[int], *, since: datetime) -> dict[int, dict[str, dict[date, int]]]:
    """{community: {"join"/"leave": {day: n}}} in one grouped query.

    `community IN (...) AND at >= since` is a range per community on the vkevent_recent index
    (community, -at): only the last DAYS days of events are read, however long the history.
    """
    from vk_sync.models import VkMembershipEvent

    rows = (
        VkMembershipEvent.objects.filter(community_id__in=community_ids, at__gte=since)
        .annotate(day=TruncDate("at"))
        .values("community_id", "kind", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[int, dict[str, dict[date, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        found[row["community_id"]][row["kind"]][row["day"]] = row["n"]
    return found


def chart(days: list[date], per_kind: dict[str, dict[date, int]], title: str) -> str:
    series = {
        label: [(day, per_kind.get(kind, {}).get(day, 0)) for day in days]
        for kind, label in (("join", gettext("joins")), ("leave", gettext("leaves")))
    }
    # svg_charts escapes every label it draws (the community's name comes from VK).
    return mark_safe(svg_line_chart(series, title=title, width=340, height=120))


def build(snap: Snapshot) -> Card:
    from vk_sync.models import VkCommunity

    data = VkData()
    rows = list(
        VkCommunity.objects.order_by("name", "id").only("id", "screen_name", "name", "members_count", "last_sync")[
            : MAX_COMMUNITIES + 1
        ]
    )
    data.total = len(rows) if len(rows) <= MAX_COMMUNITIES else VkCommunity.objects.count()
    rows = rows[:MAX_COMMUNITIES]
    if data.total > MAX_COMMUNITIES:
        data.more_url = admin_url("vk_sync_vkcommunity_changelist")
    can_events = snap.can(EVENTS_PERM)
    today = timezone.localdate(snap.now)
    days = day_range(today)
    since = timezone.make_aware(datetime.combine(days[0], time.min))
    events = events_per_day([row.pk for row in rows], since=since) if rows and can_events else {}
    for community in rows:
        per_kind = events.get(community.pk, {})
        row = CommunityRow(
            pk=community.pk,
            name=str(community),
            url=admin_url("vk_sync_vkcommunity_change", community.pk),
            members_count=community.members_count,
            syncs=sync_lines(community.last_sync or {}, snap.now),
        )
        if can_events:
            row.joins = sum(per_kind.get("join", {}).values())
            row.leaves = sum(per_kind.get("leave", {}).values())
            row.events_url = admin_url("vk_sync_vkmembershipevent_changelist", community__id__exact=community.pk)
            row.chart = chart(
                days, per_kind, gettext("%(community)s: joins and leaves per day") % {"community": community}
            )
        data.communities.append(row)
    changelist = admin_url("vk_sync_vkcommunity_changelist")
    data.stats = [Stat("communities", gettext("communities"), data.total, changelist)]
    if can_events and rows:
        events_url = admin_url("vk_sync_vkmembershipevent_changelist")
        if data.more_url:
            joins = gettext("joins in %(days)s d (first %(n)s)") % {"days": DAYS, "n": MAX_COMMUNITIES}
            leaves = gettext("leaves in %(days)s d (first %(n)s)") % {"days": DAYS, "n": MAX_COMMUNITIES}
        else:
            joins = gettext("joins in %(days)s d") % {"days": DAYS}
            leaves = gettext("leaves in %(days)s d") % {"days": DAYS}
        data.stats += [
            Stat("joins", joins, sum(r.joins for r in data.communities), f"{events_url}?kind__exact=join"),
            Stat("leaves", leaves, sum(r.leaves for r in data.communities), f"{events_url}?kind__exact=leave"),
        ]
    return Card(name="vk", title="VK", url=changelist, template="admin/leadops/dashboard/vk.html", data=data)


SPEC = CardSpec(
    name="vk",
    title="VK",
    visible=lambda snap: snap.can(PERM),
    build=build,
    url=lambda snap: admin_url("vk_sync_vkcommunity_changelist"),
)
