"""Seed 000's playbook, re-implemented on the JSON file, independently of the app.

Nothing here imports the app: this is what the operator's snippet computes, so the
tests can hold `seeders preview` to it.

- `snippet_order` is the "top-30 not in space" snippet as the playbook has it: skip
  `in_s16_space`, `offline_cnt or 0`, a missing/unparseable `last_offline_at` counts as
  1970-01-01 UTC, `rows.sort(key=(offline_cnt, last_offline_at), reverse=True)`. Its
  ties come out in file order (Python's sort is stable, also with reverse=True), and it
  lists stale members too (it only prints "stale да/нет").
- `playbook_order` is step 3 ("Compute next top-10") made exact: the snippet's filter
  plus rule 3's "not active stale (no stale_until in the future)", and the same sort
  with telegram_id ascending as the explicit tie-break:
  key = (-offline_cnt, -last_offline_at, id).

One deviation from the literal snippet: a time without an offset is UTC here (as the
import reads it); the snippet's `fromisoformat` would make it naive and then fail to
compare it with aware times.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def load_members(path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["members"] if isinstance(data, dict) else data


def dt(value) -> datetime | None:
    """The snippet's dt(): fromisoformat, None when missing or unparseable (naive = UTC, see above)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def last_offline(member: dict) -> datetime:
    return dt(member.get("last_offline_at")) or EPOCH


def offline_cnt(member: dict) -> int:
    return member.get("offline_cnt") or 0


def is_active_stale(member: dict, now: datetime) -> bool:
    """Rule 3: active stale = a stale_until in the future (whatever `stale` says)."""
    until = dt(member.get("stale_until"))
    return until is not None and until > now


def snippet_order(members: list[dict]) -> list[dict]:
    """The playbook's top-30 snippet, verbatim in substance (no limit, no printing)."""
    rows = []
    for x in members:
        if x.get("in_s16_space"):
            continue
        rows.append((offline_cnt(x), last_offline(x), x))
    rows.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [x for _, __, x in rows]


def sort_key(member: dict) -> tuple[int, int, int]:
    """(-offline_cnt, -last_offline_at in µs since 1970, telegram_id): exact, no float rounding."""
    return (-offline_cnt(member), -((last_offline(member) - EPOCH) // MICROSECOND), member["id"])


def playbook_order(members: list[dict], *, now: datetime | None = None) -> list[dict]:
    """Step 3 on the file: not in s16 space, not active stale; best first, ties by telegram_id."""
    now = now or datetime.now(UTC)
    rows = [x for x in members if not x.get("in_s16_space") and not is_active_stale(x, now)]
    rows.sort(key=sort_key)
    return rows


def playbook_top(members: list[dict], n: int = 10, *, now: datetime | None = None) -> list[int]:
    return [x["id"] for x in playbook_order(members, now=now)[:n]]
