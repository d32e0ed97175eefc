"""Apply a fetched member list to the database, set-based and in one transaction.

New = fetched and not a current member; left = a current member not fetched,
but only if their id lies in a range that complete pages vouch for. A page is
complete when it returned as many members as the community's count said it
should; neighbouring complete pages that saw the same count vouch for the ids
between them too. Anyone else missing is "unknown" and stays a member: a short
page or a shift during the fetch never turns into "left" events.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from leadops.models import JobRun

from ..models import VkCommunity, VkMembershipEvent, VkSubscription, VkUser

LOWEST, HIGHEST = -(2**62), 2**62
USERS = VkUser._meta.db_table
SUBS = VkSubscription._meta.db_table
EVENTS = VkMembershipEvent._meta.db_table
TEXT_COLUMNS = [f.column for f in VkUser._meta.fields if f.get_internal_type() in ("CharField", "URLField")]


@dataclass
class ApplyResult:
    members: int
    joined: int
    left: int
    baseline: bool  # the community's first sync: no join events for everyone already there

    def counts(self) -> dict:
        return {"members": self.members, "joined": self.joined, "left": self.left}

    def summary(self) -> str:
        if self.baseline:
            return f"first sync: {self.members} members recorded (no join events for them)"
        return f"{self.members} members: {self.joined} joined, {self.left} left"


def covered_ranges(pages: Iterable) -> list[tuple[int, int]]:
    """Id ranges in which the fetch is known to have seen everyone."""
    ranges: list[tuple[int, int]] = []
    previous = None
    for page in sorted(pages, key=lambda p: p.offset):
        if not (page.complete and page.items):
            previous = None
            continue
        lo = LOWEST if page.offset == 0 else page.items[0]
        hi = HIGHEST if page.offset + len(page.items) >= page.count else page.items[-1]
        contiguous = previous is not None and page.offset == previous.offset + len(previous.items)
        if contiguous and page.count == previous.count and ranges:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
        previous = page
    return ranges


def _load(cursor, table: str, columns: str, rows: list[tuple]) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TEMP TABLE {table} ({columns})")
    names = ", ".join(c.split()[0] for c in columns.split(","))
    if connection.vendor == "postgresql":
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {table}")
    else:
        cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)


def apply_members(
    *, community: VkCommunity, members: set[int], covered: list[tuple[int, int]], job: JobRun | None = None
) -> ApplyResult:
    now = timezone.now()
    baseline = not VkSubscription.objects.filter(community=community).exists()
    blanks = ", ".join(["''"] * len(TEXT_COLUMNS))
    with transaction.atomic(), connection.cursor() as cursor:
        _load(cursor, "vk_fetched", "id bigint PRIMARY KEY", [(m,) for m in members] or [(LOWEST,)])
        _load(cursor, "vk_covered", "lo bigint, hi bigint", covered or [(0, -1)])
        cursor.execute(
            f"INSERT INTO {USERS} (id, {', '.join(TEXT_COLUMNS)}) SELECT id, {blanks} FROM vk_fetched"
            f" WHERE id <> %s ON CONFLICT (id) DO NOTHING",
            [LOWEST],
        )
        cursor.execute("DROP TABLE IF EXISTS vk_joined")
        cursor.execute(
            f"CREATE TEMP TABLE vk_joined AS SELECT f.id FROM vk_fetched f WHERE f.id <> %s AND NOT EXISTS"
            f" (SELECT 1 FROM {SUBS} s WHERE s.community_id = %s AND s.user_id = f.id AND s.is_member)",
            [LOWEST, community.pk],
        )
        cursor.execute("DROP TABLE IF EXISTS vk_left")
        cursor.execute(
            f"CREATE TEMP TABLE vk_left AS SELECT s.user_id AS id FROM {SUBS} s"
            f" WHERE s.community_id = %s AND s.is_member"
            f" AND NOT EXISTS (SELECT 1 FROM vk_fetched f WHERE f.id = s.user_id)"
            f" AND EXISTS (SELECT 1 FROM vk_covered c WHERE s.user_id BETWEEN c.lo AND c.hi)",
            [community.pk],
        )
        cursor.execute(
            f"INSERT INTO {SUBS} (community_id, user_id, is_member, first_joined_at, left_at)"
            f" SELECT %s, id, true, %s, NULL FROM vk_joined WHERE true"
            f" ON CONFLICT (community_id, user_id) DO UPDATE SET is_member = true, left_at = NULL",
            [community.pk, now],
        )
        cursor.execute(
            f"UPDATE {SUBS} SET is_member = false, left_at = %s"
            f" WHERE community_id = %s AND user_id IN (SELECT id FROM vk_left)",
            [now, community.pk],
        )
        cursor.execute("SELECT count(*) FROM vk_joined")
        joined = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM vk_left")
        left = cursor.fetchone()[0]
        job_id = job.pk if job else None
        if not baseline:
            for table, kind in (("vk_joined", "join"), ("vk_left", "leave")):
                cursor.execute(
                    f"INSERT INTO {EVENTS} (community_id, user_id, kind, at, job_id)"
                    f" SELECT %s, id, %s, %s, %s FROM {table}",
                    [community.pk, kind, now, job_id],
                )
        for table in ("vk_fetched", "vk_covered", "vk_joined", "vk_left"):
            cursor.execute(f"DROP TABLE {table}")
    # On a first sync everyone is "new" but nobody joined: they were there before we looked.
    return ApplyResult(members=len(members), joined=0 if baseline else joined, left=left, baseline=baseline)
