"""Who two Telegram groups share: overlap, only-in-A, only-in-B, Jaccard (read-only selectors).

A group's members are its *current* memberships (`left_at IS NULL`) of users
who are not bots, the same people `selectors.current_member_rows` exports: a
bot added to both groups says nothing about a shared audience. Users are
compared by row (TelegramUser pk), so a legacy user known only by username is
still one person.

The reference side of `compare_with_reference` is the reference *snapshot*:
users flagged `in_reference` (non-bots), which is what the seeders exclude. It
is there whichever way the snapshot came: a live `tg refresh-reference` (which
exports the group, then sets the flags, only from a near-complete export) or a
legacy `import_reference` (flags only, no memberships), and it includes people
matched by username. Picking the reference group as an ordinary group B
compares with its exported memberships instead.

The counts come from one set-based query: both member sets as sub-selects,
FULL OUTER JOINed on the user, counted with `COUNT(...) FILTER (WHERE ...)`.
On PostgreSQL each side is an index range scan (the existing indexes suffice:
tests/bench/bench_group_compare.py prints the plan, well under a second for two
200,000-member groups); SQLite (3.39+ for FULL JOIN) runs the same SQL, so the
tests compare it with Python sets there too. The member lists behind each count
(for CSV) are `member_rows` / `reference_rows`, streamed in telegram_id order.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .models import Membership, TelegramGroup, TelegramUser
from .selectors import find_reference_group

Part = Literal["overlap", "only_a", "only_b"]
PARTS: tuple[Part, ...] = ("overlap", "only_a", "only_b")
ROW_COLUMNS = ("telegram_id", "username", "first_name", "last_name")
CHUNK = 5000


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    a_count: int
    b_count: int
    overlap: int
    only_a: int
    only_b: int
    jaccard: float  # overlap / union; 0.0 when both sides are empty
    partial: bool = False  # True: members are matched by something weaker than identity (VK vs Telegram)
    note: str = ""

    @property
    def union(self) -> int:
        return self.overlap + self.only_a + self.only_b

    @classmethod
    def of(cls, *, a_count: int, b_count: int, overlap: int, only_b: int | None = None, **rest) -> "Comparison":
        """From the counts: only-in-A/B and Jaccard follow (`only_b` given when B's matches can repeat)."""
        only_a = a_count - overlap
        only_b = b_count - overlap if only_b is None else only_b
        return cls(
            a_count=a_count,
            b_count=b_count,
            overlap=overlap,
            only_a=only_a,
            only_b=only_b,
            jaccard=jaccard(overlap, overlap + only_a + only_b),
            **rest,
        )


@dataclass(frozen=True)
class MemberSet:
    """One side of a comparison, in the two shapes the queries need."""

    label: str
    user_ids: QuerySet  # one column named user_id (TelegramUser pks, distinct): for the counts
    contains: Q | Exists  # a TelegramUser filter: for the lists


def jaccard(overlap: int, union: int) -> float:
    """|A ∩ B| / |A ∪ B|, and 0 for two empty sets (nothing shared, and no division by zero)."""
    return overlap / union if union else 0.0


def current_members(group: TelegramGroup) -> QuerySet:
    """The group's current, non-bot memberships.

    Bots are taken out with NOT EXISTS, an anti-join against the few bots, rather than
    by joining every member's user row: three times faster on two 200,000-member groups.
    """
    bots = TelegramUser.objects.filter(pk=OuterRef("user_id"), is_bot=True)
    return Membership.objects.filter(group=group, left_at__isnull=True).filter(~Exists(bots))


def group_members(group: TelegramGroup) -> MemberSet:
    current = Membership.objects.filter(group=group, left_at__isnull=True, user=OuterRef("pk"))
    return MemberSet(label=str(group), user_ids=current_members(group).values("user_id"), contains=Exists(current))


def reference_members() -> MemberSet:
    """The reference snapshot (`in_reference`, see the module docstring); ImproperlyConfigured when there is none."""
    flagged = TelegramUser.objects.filter(in_reference=True, is_bot=False)
    if not flagged.exists():  # an empty set would make every group look unrelated to the reference
        raise ImproperlyConfigured(
            "No reference snapshot to compare with: nobody is flagged in_reference. Refresh the reference group "
            "(tg refresh-reference, REFERENCE_GROUP set) or import it (import_reference) first."
        )
    group = find_reference_group()
    label = f"{group} (reference snapshot)" if group else "reference snapshot"
    return MemberSet(label=label, user_ids=flagged.values(user_id=F("pk")), contains=Q(in_reference=True))


def count_both(a: QuerySet, b: QuerySet) -> tuple[int, int, int]:
    """(|A|, |B|, |A ∩ B|) of two querysets of distinct values in a column named user_id, in one query.

    Columns are referred to by name: SQLite has no `AS a (k)` column aliases.
    """
    a_sql, a_params = a.query.sql_with_params()
    b_sql, b_params = b.query.sql_with_params()
    sql = f"""
        SELECT COUNT(a.user_id), COUNT(b.user_id),
               COUNT(*) FILTER (WHERE a.user_id IS NOT NULL AND b.user_id IS NOT NULL)
        FROM ({a_sql}) AS a FULL OUTER JOIN ({b_sql}) AS b ON a.user_id = b.user_id
    """
    with connections[router.db_for_read(TelegramUser)].cursor() as cursor:
        cursor.execute(sql, [*a_params, *b_params])
        a_count, b_count, overlap = cursor.fetchone()
    return a_count, b_count, overlap


def compare_sets(a: MemberSet, b: MemberSet) -> Comparison:
    a_count, b_count, overlap = count_both(a.user_ids, b.user_ids)
    return Comparison.of(a_label=a.label, b_label=b.label, a_count=a_count, b_count=b_count, overlap=overlap)


def compare_groups(*, a: TelegramGroup, b: TelegramGroup) -> Comparison:
    """Current members of `a` and `b` as sets: sizes, intersection, differences and Jaccard index."""
    return compare_sets(group_members(a), group_members(b))


def compare_with_reference(*, group: TelegramGroup) -> Comparison:
    """`group` (A) against the reference snapshot (B); ImproperlyConfigured without one."""
    return compare_sets(group_members(group), reference_members())


def check_part(part: str) -> None:
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")


def set_users(a: MemberSet, b: MemberSet, part: Part) -> QuerySet:
    """The users behind one count of `compare_sets(a, b)`, ordered by telegram_id (unknown ids last).

    EXISTS / NOT EXISTS rather than IN / NOT IN: PostgreSQL turns them into
    semi/anti joins, where a NOT IN over 200,000 ids that outgrows work_mem
    would be re-scanned for every row.
    """
    check_part(part)
    first, other = (b, a) if part == "only_b" else (a, b)
    users = TelegramUser.objects.filter(first.contains, is_bot=False)
    users = users.filter(other.contains if part == "overlap" else ~other.contains)
    return users.order_by(F("telegram_id").asc(nulls_last=True), "pk")


@contextmanager
def whole_result_plan(using: str):
    """A transaction whose cursors PostgreSQL plans for reading every row.

    A server-side cursor is planned for its first 10% of rows (cursor_tuple_fraction):
    for "only in A" of two 200,000-member groups that is a nested loop over the whole
    users table in telegram_id order, 3x slower than hashing the two member sets and
    sorting the result, and it grows with the users table instead of the groups. Inside
    the transaction the cursor is also a plain one, streamed as it is read, where in
    autocommit Django would declare it WITH HOLD (materialized in full first). Inside an
    outer transaction the setting lasts until that one ends, which only changes how its
    later cursors are planned.
    """
    with transaction.atomic(using=using):
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        yield connection


def stream(queryset: QuerySet) -> Iterator:
    with whole_result_plan(queryset.db):
        yield from queryset.iterator(chunk_size=CHUNK)


def member_rows(*, a: TelegramGroup, b: TelegramGroup, part: Part) -> Iterator[tuple]:
    """(telegram_id, username, first_name, last_name) of each user in `part` of `compare_groups(a=a, b=b)`, streamed."""
    return stream(set_users(group_members(a), group_members(b), part).values_list(*ROW_COLUMNS))


def reference_rows(*, group: TelegramGroup, part: Part) -> Iterator[tuple]:
    """The same for `compare_with_reference(group=group)` (only_b: in the reference, not in the group)."""
    return stream(set_users(group_members(group), reference_members(), part).values_list(*ROW_COLUMNS))
