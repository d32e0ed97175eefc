"""A Telegram group against a VK community: who is in both, as far as a name can tell (read-only selectors).

VK and Telegram share no user id, so the only link is a name: a VK member whose
short name (`VkUser.domain`) equals, case-insensitively, a Telegram member's
username. That match is partial by nature and the result says so
(`partial=True`, `note`): people who use different names on the two networks,
have no Telegram username, or never chose a VK short name are not matched, so
the overlap is a lower bound. VK's default short names (`id123`: the numeric id,
which every VK user without a chosen name has) are never matched: a Telegram
user may well be called `id123` too.

A = the Telegram group (its current, non-bot members, as in
`telegram_sources.comparison`), B = the VK community (subscriptions with
`is_member`). Counts are of people on each side:

* `overlap`: Telegram members whose username some VK member has as short name;
* `only_a` = `a_count - overlap`; `only_b`: VK members nobody in A is matched to.

Usernames and VK short names are unique on their networks, so the matching is
one-to-one in practice; only stale data (a name that moved between accounts)
could pair one person with two, and then `only_b` is counted on VK's side.
"""

from collections.abc import Iterator

from django.db import connections, router
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower, NullIf

from telegram_sources.comparison import (
    ROW_COLUMNS,
    Comparison,
    Part,
    check_part,
    current_members,
    stream,
    whole_result_plan,
)
from telegram_sources.models import TelegramGroup, TelegramUser

from .models import VkCommunity, VkSubscription, VkUser

DEFAULT_DOMAIN = r"^id[0-9]+$"  # what VK shows for a user who never picked a short name
NOTE = (
    "Partial match: a VK member counts as the same person as a Telegram member only when the VK short name "
    "equals the Telegram username (case-insensitive; VK's default id123 names are ignored). People without a "
    "Telegram username or a chosen VK short name, or who use different names, are not matched, "
    "so the overlap is a lower bound."
)
OVERLAP_COLUMNS = (*ROW_COLUMNS, "vk_id", "vk_domain")
VK_COLUMNS = ("vk_id", "domain", "first_name", "last_name")
CHUNK = 5000


def community_label(community: VkCommunity) -> str:
    return f"VK: {community}"


def vk_members(community: VkCommunity) -> QuerySet:
    return VkSubscription.objects.filter(community=community, is_member=True)


def vk_handle(prefix: str = "user__") -> Case:
    """lower(domain), or NULL for no short name or VK's default `id123`."""
    domain = f"{prefix}domain"
    unnamed = Q(**{domain: ""}) | Q(**{f"{domain}__iregex": DEFAULT_DOMAIN})
    return Case(When(unnamed, then=Value(None, output_field=CharField())), default=Lower(domain))


def telegram_handle(prefix: str = "user__") -> NullIf:
    """lower(username), or NULL for a user without one."""
    return NullIf(Lower(f"{prefix}username"), Value(""))


def matched_vk(handle) -> QuerySet:
    """VK subscriptions (of any community: filter it) whose named short name equals `handle`."""
    return (
        VkSubscription.objects.filter(is_member=True)
        .exclude(user__domain="")
        .exclude(user__domain__iregex=DEFAULT_DOMAIN)
        .annotate(handle=Lower("user__domain"))
        .filter(handle=handle)
    )


def compare_vk_with_telegram(*, community: VkCommunity, group: TelegramGroup) -> Comparison:
    """A = `group`, B = `community`, matched by name (partial: see the module docstring), in one query."""
    tg = current_members(group).annotate(h=telegram_handle()).values("h").annotate(n=Count("*")).order_by()
    vk = vk_members(community).annotate(h=vk_handle()).values("h").annotate(n=Count("*")).order_by()
    tg_sql, tg_params = tg.query.sql_with_params()
    vk_sql, vk_params = vk.query.sql_with_params()
    # One row per handle and side (NULL handles never join: they land in only-A / only-B). The sub-selects'
    # columns are referred to by name (SQLite has no `AS t (h, n)` column aliases).
    sql = f"""
        SELECT COALESCE(SUM(t.n), 0), COALESCE(SUM(v.n), 0),
               COALESCE(SUM(t.n) FILTER (WHERE v.n IS NOT NULL), 0),
               COALESCE(SUM(v.n) FILTER (WHERE t.n IS NULL), 0)
        FROM ({tg_sql}) AS t FULL OUTER JOIN ({vk_sql}) AS v ON t.h = v.h
    """
    with connections[router.db_for_read(VkSubscription)].cursor() as cursor:
        cursor.execute(sql, [*tg_params, *vk_params])
        a_count, b_count, overlap, only_b = (int(value) for value in cursor.fetchone())
    return Comparison.of(
        a_label=str(group),
        b_label=community_label(community),
        a_count=a_count,
        b_count=b_count,
        overlap=overlap,
        only_b=only_b,
        partial=True,
        note=NOTE,
    )


def columns(part: Part) -> tuple[str, ...]:
    """The CSV header of `vk_member_rows(part=...)`."""
    return {"overlap": OVERLAP_COLUMNS, "only_a": ROW_COLUMNS, "only_b": VK_COLUMNS}[part]


def vk_member_rows(*, community: VkCommunity, group: TelegramGroup, part: Part) -> Iterator[tuple]:
    """The people behind one count of `compare_vk_with_telegram`, streamed; columns: `columns(part)`.

    overlap: the matched pairs (Telegram columns, then the VK id and short name), by telegram_id;
    only_a: Telegram members, by telegram_id; only_b: VK members, by VK id.
    """
    check_part(part)
    if part == "overlap":
        return _overlap_rows(community=community, group=group)
    if part == "only_a":
        in_vk = Exists(matched_vk(Lower(OuterRef("username"))).filter(community=community))
        users = TelegramUser.objects.filter(is_bot=False, memberships__group=group, memberships__left_at__isnull=True)
        users = users.filter(~in_vk).order_by(F("telegram_id").asc(nulls_last=True), "pk")
        return stream(users.values_list(*ROW_COLUMNS))
    tg_names = (
        current_members(group)
        .exclude(user__username="")
        .annotate(handle=Lower("user__username"))
        .filter(handle=OuterRef("handle"))
    )
    vk_users = (
        VkUser.objects.filter(subscriptions__community=community, subscriptions__is_member=True)
        .annotate(handle=vk_handle(prefix=""))
        .filter(~Exists(tg_names))
        .order_by("pk")
    )
    return stream(vk_users.values_list("pk", "domain", "first_name", "last_name"))


def _overlap_rows(*, community: VkCommunity, group: TelegramGroup) -> Iterator[tuple]:
    """A join of the two named member lists, read through a server-side cursor on PostgreSQL."""
    # Named columns, so the outer query can refer to them on both backends.
    tg = current_members(group).annotate(h=telegram_handle()).exclude(h=None)
    tg = tg.values(**{column: F(f"user__{column}") for column in ROW_COLUMNS}, handle=F("h"))
    vk = vk_members(community).annotate(h=vk_handle()).exclude(h=None)
    vk = vk.values(vk_id=F("user_id"), domain=F("user__domain"), handle=F("h"))
    tg_sql, tg_params = tg.query.sql_with_params()
    vk_sql, vk_params = vk.query.sql_with_params()
    sql = f"""
        SELECT t.telegram_id, t.username, t.first_name, t.last_name, v.vk_id, v.domain
        FROM ({tg_sql}) AS t JOIN ({vk_sql}) AS v ON t.handle = v.handle
        ORDER BY t.telegram_id NULLS LAST, t.username, v.vk_id
    """
    with whole_result_plan(router.db_for_read(VkSubscription)) as connection, connection.chunked_cursor() as cursor:
        cursor.execute(sql, [*tg_params, *vk_params])
        while rows := cursor.fetchmany(CHUNK):
            yield from rows
