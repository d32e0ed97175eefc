"""When an email may go out: the sending window, the pause between messages, the daily cap.

Pure time arithmetic, no database: the queue service feeds it the mailbox's latest
slot and a per-day counter. A window is [start, end) in its own time zone, so a
slot exactly at the end belongs to the next day's window. Local times are turned
into instants with zoneinfo, so "09:10" stays 09:10 on the wall clock on both
sides of a DST change (Europe/Moscow has none; other zones do).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = r"([01]?\d|2[0-3]):([0-5]\d)"
_WINDOW = re.compile(rf"^\s*{_HHMM}\s*-\s*{_HHMM}\s*$")
_SPACING = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
SATURDAY = 5
# A cap loop that has not found a free day in this many days is a bug in the counter, not a busy mailbox.
MAX_DAYS_AHEAD = 1000


def parse_window(value: str) -> tuple[time, time]:
    """ "09:10-19:45" -> (09:10, 19:45). The window must not cross midnight."""
    match = _WINDOW.match(value or "")
    if not match:
        raise ValueError(f"sending window must look like 09:10-19:45, got {value!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        raise ValueError(f"sending window must start before it ends (same day), got {value!r}")
    return start, end


def parse_spacing(value: str | int) -> tuple[int, int]:
    """ "240-480" -> (240, 480) seconds; "300" -> (300, 300)."""
    match = _SPACING.match(str(value))
    if not match:
        raise ValueError(f"spacing must be seconds as N or MIN-MAX, e.g. 240-480, got {value!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > high:
        raise ValueError(f"spacing minimum is above its maximum: {value!r}")
    return low, high


def _zone(tz: tzinfo | str) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


@dataclass(frozen=True)
class SendingWindow:
    start: time
    end: time
    tz: tzinfo
    skip_weekends: bool = False

    def __post_init__(self):
        object.__setattr__(self, "tz", _zone(self.tz))
        if self.start >= self.end:
            raise ValueError(f"sending window must start before it ends (same day): {self.start}-{self.end}")

    @classmethod
    def parse(cls, window: str, tz: tzinfo | str, skip_weekends: bool = False) -> "SendingWindow":
        start, end = parse_window(window)
        return cls(start=start, end=end, tz=tz, skip_weekends=skip_weekends)

    def local_date(self, when: datetime) -> date:
        return _aware(when).astimezone(self.tz).date()

    def opens_on(self, day: date) -> datetime:
        return datetime.combine(day, self.start, tzinfo=self.tz)

    def closes_on(self, day: date) -> datetime:
        return datetime.combine(day, self.end, tzinfo=self.tz)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Local midnight to local midnight: what "that day" means for a daily cap."""
        return (
            datetime.combine(day, time(0), tzinfo=self.tz),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz),
        )

    def is_sending_day(self, day: date) -> bool:
        return not (self.skip_weekends and day.weekday() >= SATURDAY)

    def contains(self, when: datetime) -> bool:
        local = _aware(when).astimezone(self.tz)
        return self.is_sending_day(local.date()) and self.start <= local.time() < self.end


def window_from_settings() -> SendingWindow:
    """The window the operator configured (OUTREACH_WINDOW, OUTREACH_TIMEZONE, OUTREACH_SKIP_WEEKENDS)."""
    from django.conf import settings

    return SendingWindow.parse(
        settings.OUTREACH_WINDOW,
        settings.OUTREACH_TIMEZONE,
        skip_weekends=getattr(settings, "OUTREACH_SKIP_WEEKENDS", False),
    )


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"need an aware datetime, got naive {when!r}")
    return when


def _next_opening(day: date, window: SendingWindow) -> datetime:
    """The window's start on `day`, or on the first sending day after it."""
    while not window.is_sending_day(day):
        day += timedelta(days=1)
    return window.opens_on(day)


def fit_into_window(when: datetime, window: SendingWindow) -> datetime:
    """`when` itself if inside the window; otherwise the next moment the window opens.

    Returned in `when`'s time zone, so callers compare like with like.
    """
    if window.contains(when):
        return when
    local = _aware(when).astimezone(window.tz)
    day = local.date()
    if window.is_sending_day(day) and local.time() < window.start:
        moved = window.opens_on(day)
    else:  # at or after the end, or a skipped weekend day
        moved = _next_opening(day + timedelta(days=1), window)
    return moved.astimezone(when.tzinfo)


def next_slot(
    *,
    now: datetime,
    latest: datetime | None,
    pause_seconds: float,
    window: SendingWindow,
    sent_or_scheduled_that_day: Callable[[date], int],
    cap: int | None,
) -> datetime:
    """The mailbox's next send time.

    max(now, latest) + pause, moved into the window; a day whose count already
    reached the cap is passed over for the next day's opening, as often as needed.
    Never earlier than latest + pause, so a mailbox's sends keep their spacing.
    """
    if cap is not None and cap < 1:
        raise ValueError(f"daily cap must be at least 1, got {cap}")
    if pause_seconds < 0:
        raise ValueError(f"pause must not be negative, got {pause_seconds}")
    base = max(_aware(now), _aware(latest)) if latest is not None else _aware(now)
    slot = fit_into_window(base + timedelta(seconds=pause_seconds), window)
    if cap is None:
        return slot
    for _ in range(MAX_DAYS_AHEAD):
        day = window.local_date(slot)
        if sent_or_scheduled_that_day(day) < cap:
            return slot
        slot = _next_opening(day + timedelta(days=1), window).astimezone(slot.tzinfo)
    raise RuntimeError(f"no day under the cap of {cap} within {MAX_DAYS_AHEAD} days")
