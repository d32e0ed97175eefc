"""A user as the seeders screens and `--json` show them (ARCHITECTURE's field list)."""

from datetime import datetime

from django.utils import timezone


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def seeder_row(user, *, at: datetime | None = None) -> dict:
    """Stale fields come from the user's active mark, annotated by the selectors when listed."""
    until = getattr(user, "stale_until", None)
    return {
        "telegram_id": user.telegram_id,
        "username": user.username or None,
        "first_name": user.first_name or None,
        "last_name": user.last_name or None,
        "offline_cnt": user.offline_cnt,
        "last_offline_at": _iso(user.last_offline_at),
        "first_seen_at": _iso(user.first_seen_at),
        "stale": bool(until and until > (at or timezone.now())),
        "stale_set_at": _iso(getattr(user, "stale_set_at", None)),
        "stale_until": _iso(until),
    }
