"""Synthetic legacy files (seed-000 `members.json`, `s16_space_all_participants.json`).

Everyone here is made up: `user_0001`, `First0001`, ids from 7_000_000_001 up.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED_000_KEYS = [
    "id",
    "username",
    "first_name",
    "last_name",
    "offline_cnt",
    "first_seen_at",
    "last_offline_at",
    "in_s16_space",
]
BASE_ID = 7_000_000_000
T0 = datetime(2023, 3, 1, 18, 0, tzinfo=UTC)


def telegram_id(n: int) -> int:
    return BASE_ID + n


def username(n: int) -> str:
    return f"user_{n:04d}"


def member(n: int, **overrides) -> dict:
    """Member number n in seed-000 shape, with the seeders' stale* keys on some of them."""
    first = T0 + timedelta(days=n % 300, minutes=n)
    row = {
        "id": telegram_id(n),
        "username": username(n),
        "first_name": f"First{n:04d}",
        "last_name": f"Last{n:04d}" if n % 3 else None,
        "offline_cnt": n % 7,
        "first_seen_at": first.isoformat(),
        "last_offline_at": (first + timedelta(days=30 + n % 90)).isoformat() if n % 5 else None,
        "in_s16_space": n % 4 == 0,
    }
    if n % 6 == 0:
        row.update(
            stale=True,
            stale_set_at="2024-06-01T10:00:00+00:00",
            stale_until="2024-11-28T10:00:00+00:00",
            stale_reason="seeders-next-top10 2024-06-01T10:00:00+00:00",
        )
    row.update(overrides)
    return row


def members(count: int, start: int = 1) -> list[dict]:
    return [member(n) for n in range(start, start + count)]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def members_file(path: Path, rows: list[dict], *, root: str = "object") -> Path:
    """root="object": {"members": [...]} as seed 000 has it; root="list": the bare list."""
    return write_json(path, {"members": rows} if root == "object" else rows)


def participants_file(path: Path, rows: list[dict], *, root: str = "list") -> Path:
    return write_json(path, {"participants": rows} if root == "object" else rows)


def participant(n: int, **overrides) -> dict:
    row = {"id": telegram_id(n), "username": username(n), "first_name": f"First{n:04d}", "last_name": None}
    row.update(overrides)
    return row
