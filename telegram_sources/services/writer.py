"""Write a page of participants set-based: users upserted, memberships touched.

One batch = a temp table filled in one go (COPY on PostgreSQL, executemany on
SQLite) and three statements: adopt legacy rows known only by username, upsert
users, upsert memberships. No per-row ORM saves, so 100,000 members take seconds.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from ..gateway import Participant
from ..models import Membership, TelegramGroup, TelegramUser

USERS = TelegramUser._meta.db_table
MEMBERSHIPS = Membership._meta.db_table
COLUMNS = (
    "telegram_id",
    "username",
    "first_name",
    "last_name",
    "phone",
    "is_bot",
    "is_premium",
    "is_verified",
    "status",
)


def _rows(participants: Sequence[Participant]) -> list[tuple]:
    unique = {p.id: p for p in participants}  # a page may repeat someone; the last copy wins
    return [
        (
            p.id,
            p.username or "",
            p.first_name or "",
            p.last_name or "",
            p.phone or "",
            p.is_bot,
            p.is_premium,
            p.is_verified,
            p.status or "",
        )
        for p in unique.values()
    ]


def _load_incoming(cursor, rows: list[tuple]) -> None:
    columns = ", ".join(COLUMNS)
    if connection.vendor == "postgresql":
        # A page and its checkpoint commit together, so losing the last pages in a
        # server crash only means re-fetching them: no need to wait for the WAL flush.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tg_incoming (telegram_id bigint PRIMARY KEY, username text,"
            " first_name text, last_name text, phone text, is_bot boolean, is_premium boolean,"
            " is_verified boolean, status text) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY tg_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Autovacuum never sees temp tables: without statistics the planner guesses
        # it is large and scans the users and memberships tables for every page.
        cursor.execute("ANALYZE tg_incoming")
    else:
        # A typed key, so SQLite's planner drives the joins from this small table.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS tg_incoming (telegram_id INTEGER PRIMARY KEY, {', '.join(COLUMNS[1:])})"
        )
        cursor.executemany(f"INSERT INTO tg_incoming VALUES ({', '.join(['%s'] * len(COLUMNS))})", rows)


def write_participants(
    *, group: TelegramGroup, participants: Sequence[Participant], seen_at: datetime, run_started_at: datetime
) -> int:
    """Upsert the people and their membership of `group`; return how many are new to this run.

    "New to this run" = not already seen in this group since `run_started_at`, which
    is what a resumed or overlapping sweep must not count twice.
    """
    rows = _rows(participants)
    if not rows:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        _load_incoming(cursor, rows)
        # Legacy imports may know someone only by username: give that row the id
        # instead of creating a second person. (Checked first: usually there are none.)
        cursor.execute(f"SELECT 1 FROM {USERS} WHERE telegram_id IS NULL AND username <> '' LIMIT 1")
        if cursor.fetchone():
            _adopt_legacy_rows(cursor)
        cursor.execute(
            f"INSERT INTO {USERS} ({', '.join(COLUMNS)}, first_seen_at, offline_cnt, in_reference)"
            f" SELECT {', '.join(COLUMNS)}, %s, 0, false FROM tg_incoming WHERE true"
            f" ON CONFLICT (telegram_id) DO UPDATE SET username = excluded.username,"
            f"  first_name = excluded.first_name, last_name = excluded.last_name,"
            f"  phone = CASE WHEN excluded.phone <> '' THEN excluded.phone ELSE {USERS}.phone END,"
            f"  is_bot = excluded.is_bot, is_premium = excluded.is_premium, is_verified = excluded.is_verified,"
            f"  status = excluded.status,"
            f"  first_seen_at = COALESCE({USERS}.first_seen_at, excluded.first_seen_at),"
            # A changed name makes the gender estimate stale: "" = refresh_genders redoes it.
            # (On the right-hand side {USERS}.x is the row before this update; none is NULL.)
            f"  gender = CASE WHEN {USERS}.first_name <> excluded.first_name OR {USERS}.last_name <> excluded.last_name"
            f"   OR {USERS}.username <> excluded.username THEN '' ELSE {USERS}.gender END",
            [seen_at],
        )
        cursor.execute(
            f"INSERT INTO {MEMBERSHIPS} (group_id, user_id, first_seen_at, last_seen_at, left_at)"
            f" SELECT %s, u.id, %s, %s, NULL FROM tg_incoming i JOIN {USERS} u ON u.telegram_id = i.telegram_id"
            f" WHERE true ON CONFLICT (group_id, user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
            f"  left_at = NULL WHERE {MEMBERSHIPS}.last_seen_at < %s"
            f" RETURNING 1",
            [group.pk, seen_at, seen_at, run_started_at],
        )
        # Inserted, or last seen before this run: who this run adds. Someone a
        # resumed or overlapping sweep already saw is neither touched nor counted.
        new = len(cursor.fetchall())
        # Emptied now, not only at commit: a caller's outer transaction may write several pages.
        # The table itself stays for the connection's next page (creating one per page costs).
        cursor.execute("DELETE FROM tg_incoming")
    return new


def _adopt_legacy_rows(cursor) -> None:
    cursor.execute(
        f"UPDATE {USERS} SET telegram_id = (SELECT i.telegram_id FROM tg_incoming i"
        f"   WHERE i.username <> '' AND lower(i.username) = lower({USERS}.username) LIMIT 1)"
        f" WHERE telegram_id IS NULL AND username <> '' AND lower(username) IN"
        f"  (SELECT lower(i.username) FROM tg_incoming i WHERE i.username <> ''"
        f"   AND NOT EXISTS (SELECT 1 FROM {USERS} x WHERE x.telegram_id = i.telegram_id))"
    )
