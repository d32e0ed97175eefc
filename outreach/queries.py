"""Search queries from niches-sheet rows, and when to send them to Yandex.

Yandex's deferred searches are cheaper at night: 00:00-07:59 Moscow time. A query
is scheduled for `now` when now is inside that window, else for the next window's
start. A batch is laid out at a fixed spacing that keeps both of Yandex's limits,
10 requests a second and 35,000 an hour (SPACING = 3600 s / 35,000, rounded up to
the microsecond: 102,858 us, so at most 10 in any second and 35,000 in any hour);
what does not fit in one night's window continues in the next one. Pass `offset`
to continue a layout started by an earlier call from the same `now`.

These times are "not before": the shared rate limiter (outreach.yandex) is what
actually holds the limits when the searches go out.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from . import regions

YANDEX_TZ = ZoneInfo("Europe/Moscow")  # the tariff's clock, whatever OUTREACH_TIMEZONE says
WINDOW_START = time(0, 0)
WINDOW_LENGTH = timedelta(hours=8)  # 00:00 up to (not including) 08:00, i.e. through 07:59:59
MAX_PER_SECOND = 10
MAX_QUERY_LENGTH = 400  # Search API v2 refuses a longer queryText
MAX_PER_HOUR = 35_000
SPACING = timedelta(microseconds=-(-3600 * 10**6 // MAX_PER_HOUR))  # ceil: 102,858 us
PER_WINDOW = -(-WINDOW_LENGTH // SPACING)  # slots start + k * SPACING inside [start, start + 8 h)


@dataclass(frozen=True)
class QuerySpec:
    """One query to create. Field names are SerpQuery's: `SerpQuery(**dataclasses.asdict(spec))`."""

    text: str
    lr: int
    hash: str
    scheduled_for: datetime
    niche: str = ""
    city: str = ""
    country: str = ""
    batch_tag: str = ""


def clean_text(text: str) -> str:
    """Whitespace collapsed (NBSP and friends included), every dash written "-"."""
    return " ".join(regions.normalize_dashes(text or "").split())


def query_hash(text: str, lr: int) -> str:
    """sha1 of "text|lr": the idempotency key of a query (SerpQuery.hash)."""
    return hashlib.sha1(f"{text}|{lr}".encode(), usedforsecurity=False).hexdigest()


def _window_start_on(day) -> datetime:
    return datetime.combine(day, WINDOW_START, YANDEX_TZ)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def current_window_start(now: datetime) -> datetime | None:
    """The start of the night window `now` is in, or None outside the window."""
    local = _aware(now).astimezone(YANDEX_TZ)
    start = _window_start_on(local.date())
    return start if start <= local < start + WINDOW_LENGTH else None


def in_night_window(now: datetime) -> bool:
    """Is `now` within 00:00-07:59 Moscow time?"""
    return current_window_start(now) is not None


def next_window_start(now: datetime) -> datetime:
    """The next 00:00 Moscow time after `now` (in Moscow time; compare freely with UTC datetimes)."""
    local = _aware(now).astimezone(YANDEX_TZ)
    return _window_start_on(local.date() + timedelta(days=1))


def window_end(now: datetime) -> datetime:
    """When the current window ends, or (outside one) when the next one will."""
    start = current_window_start(now) or next_window_start(now)
    return start + WINDOW_LENGTH


def first_slot(now: datetime) -> datetime:
    """`now` inside the window, else the next window's start."""
    return now if in_night_window(now) else next_window_start(now)


def schedule(count: int, now: datetime, *, offset: int = 0, night_only: bool = True) -> list[datetime]:
    """`count` send times from `now` on, SPACING apart, only inside night windows.

    Slot k (k = offset + i) is first_slot(now) + k * SPACING while that is in the
    window, then the following nights' windows from their starts. Times are UTC.
    With `night_only=False` (YANDEX_ENFORCE_NIGHT_WINDOW off) slots simply follow `now`.
    """
    if count < 0 or offset < 0:
        raise ValueError("count and offset must be >= 0")
    if not night_only:
        return [(_aware(now) + k * SPACING).astimezone(UTC) for k in range(offset, offset + count)]
    first = first_slot(now)
    window = current_window_start(first)
    capacity = (window + WINDOW_LENGTH - first - timedelta(microseconds=1)) // SPACING + 1  # left tonight
    out = []
    for k in range(offset, offset + count):
        if k < capacity:
            at = first + k * SPACING
        else:
            night, slot = divmod(k - capacity, PER_WINDOW)
            # Calendar days in Moscow (no DST there now, but combine() keeps it right anyway).
            at = _window_start_on(window.date() + timedelta(days=night + 1)) + slot * SPACING
        out.append(at.astimezone(UTC))
    return out


def build_queries(
    *,
    niche: str,
    city: str = "",
    country: str = "",
    batch_tag: str = "",
    now: datetime,
    offset: int = 0,
    night_only: bool = True,
) -> list[QuerySpec]:
    """The queries for one sheet row: for now exactly one, "niche city" (or "niche country").

    lr: the city's region, else the country's, else 225. `offset`: how many queries
    were already laid out from this `now` (rows before this one), so rows do not pile
    up on the same instant.
    """
    niche, city, country, batch_tag = (clean_text(v) for v in (niche, city, country, batch_tag))
    if not niche:
        raise ValueError("niche is empty")
    texts = [clean_text(f"{niche} {city or country}")]
    for text in texts:
        if len(text) > MAX_QUERY_LENGTH:
            raise ValueError(f"the query is {len(text)} characters long; Yandex takes at most {MAX_QUERY_LENGTH}")
    lr = regions.resolve_lr(city, country)
    times = schedule(len(texts), now, offset=offset, night_only=night_only)
    return [
        QuerySpec(
            text=text,
            lr=lr,
            hash=query_hash(text, lr),
            scheduled_for=at,
            niche=niche,
            city=city,
            country=country,
            batch_tag=batch_tag,
        )
        for text, at in zip(texts, times, strict=True)
    ]
