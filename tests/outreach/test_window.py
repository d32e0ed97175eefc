"""The sending window, the spacing and the daily cap, as tables of (given -> expected) wall-clock times."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from outreach.window import SendingWindow, fit_into_window, next_slot, parse_spacing, parse_window

MSK = ZoneInfo("Europe/Moscow")
NY = ZoneInfo("America/New_York")  # has DST: 2025-03-09 moves from UTC-5 to UTC-4
WINDOW = SendingWindow.parse("09:10-19:45", "Europe/Moscow")
WEEKDAYS_ONLY = SendingWindow.parse("09:10-19:45", "Europe/Moscow", skip_weekends=True)

# 2025-03-05 is a Wednesday, 2025-03-07 a Friday, 2025-03-08/09 the weekend, 2025-03-10 a Monday.


def msk(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MSK)


def no_messages(day: date) -> int:
    return 0


@pytest.mark.parametrize(
    ("given", "expected", "window"),
    [
        ("2025-03-05 06:00", "2025-03-05 09:10", WINDOW),  # before the window: today's start
        ("2025-03-05 00:00", "2025-03-05 09:10", WINDOW),
        ("2025-03-05 09:10", "2025-03-05 09:10", WINDOW),  # exactly at the start: inside
        ("2025-03-05 12:34:56", "2025-03-05 12:34:56", WINDOW),  # inside: unchanged
        ("2025-03-05 19:44:59", "2025-03-05 19:44:59", WINDOW),
        ("2025-03-05 19:45", "2025-03-06 09:10", WINDOW),  # exactly at its end: next day's start
        ("2025-03-05 22:00", "2025-03-06 09:10", WINDOW),  # past it
        ("2025-03-05 23:59:59", "2025-03-06 09:10", WINDOW),
        ("2025-03-07 20:00", "2025-03-08 09:10", WINDOW),  # Friday evening, weekends allowed: Saturday
        ("2025-03-08 12:00", "2025-03-08 12:00", WINDOW),  # Saturday without skip: an ordinary day
        ("2025-03-07 20:00", "2025-03-10 09:10", WEEKDAYS_ONLY),  # Friday evening -> Monday
        ("2025-03-08 12:00", "2025-03-10 09:10", WEEKDAYS_ONLY),  # inside the hours, but Saturday
        ("2025-03-09 06:00", "2025-03-10 09:10", WEEKDAYS_ONLY),  # Sunday before the hours
        ("2025-03-10 08:00", "2025-03-10 09:10", WEEKDAYS_ONLY),  # Monday before the window
        ("2025-03-07 15:00", "2025-03-07 15:00", WEEKDAYS_ONLY),  # Friday inside
    ],
)
def test_it_fits_a_time_into_the_window(given, expected, window):
    assert fit_into_window(msk(given), window) == msk(expected)


def test_it_reads_utc_input_in_the_windows_zone_and_answers_in_the_inputs_zone():
    # 05:00 UTC is 08:00 in Moscow: before the window, so 09:10 MSK = 06:10 UTC.
    moved = fit_into_window(datetime(2025, 3, 5, 5, 0, tzinfo=UTC), WINDOW)
    assert moved == datetime(2025, 3, 5, 6, 10, tzinfo=UTC)
    assert moved.tzinfo is UTC
    # 16:00 UTC is 19:00 in Moscow: inside, unchanged.
    assert fit_into_window(datetime(2025, 3, 5, 16, 0, tzinfo=UTC), WINDOW) == datetime(2025, 3, 5, 16, 0, tzinfo=UTC)
    # 16:45 UTC is 19:45 in Moscow: the end, so tomorrow 09:10 MSK.
    assert fit_into_window(datetime(2025, 3, 5, 16, 45, tzinfo=UTC), WINDOW) == msk("2025-03-06 09:10")


def test_moscow_has_one_offset_all_year():
    summer = fit_into_window(datetime(2025, 7, 1, 3, 0, tzinfo=UTC), WINDOW)
    winter = fit_into_window(datetime(2025, 1, 15, 3, 0, tzinfo=UTC), WINDOW)
    assert summer.astimezone(UTC).time() == winter.astimezone(UTC).time() == time(6, 10)


@pytest.mark.parametrize(
    ("given_utc", "expected_utc"),
    [
        # Saturday evening EST -> Sunday 09:10, already EDT (UTC-4): 13:10 UTC, not 14:10.
        (datetime(2025, 3, 9, 1, 0, tzinfo=UTC), datetime(2025, 3, 9, 13, 10, tzinfo=UTC)),
        # Friday evening EST -> Saturday 09:10 EST (UTC-5).
        (datetime(2025, 3, 8, 1, 0, tzinfo=UTC), datetime(2025, 3, 8, 14, 10, tzinfo=UTC)),
        # The night of the change itself (02:00 local does not exist): still 09:10 local.
        (datetime(2025, 3, 9, 7, 30, tzinfo=UTC), datetime(2025, 3, 9, 13, 10, tzinfo=UTC)),
    ],
)
def test_it_keeps_the_wall_clock_start_across_a_dst_change(given_utc, expected_utc):
    window = SendingWindow.parse("09:10-19:45", "America/New_York")
    moved = fit_into_window(given_utc, window)
    assert moved == expected_utc
    assert moved.astimezone(NY).time() == time(9, 10)


@pytest.mark.parametrize(
    ("now", "latest", "pause", "counts", "cap", "expected"),
    [
        # inside the window, nothing before: now + pause
        ("2025-03-05 12:00", None, 300, {}, 50, "2025-03-05 12:05"),
        # the mailbox's latest is ahead of now: latest + pause
        ("2025-03-05 12:00", "2025-03-05 14:00", 240, {}, 50, "2025-03-05 14:04"),
        # latest is in the past: now wins
        ("2025-03-05 12:00", "2025-03-04 18:00", 240, {}, 50, "2025-03-05 12:04"),
        # before the window: the pause lands before 09:10, so the window's start
        ("2025-03-05 07:00", None, 480, {}, 50, "2025-03-05 09:10"),
        # the pause crosses the end: next day's start
        ("2025-03-05 19:40", None, 300, {}, 50, "2025-03-06 09:10"),
        # past the window
        ("2025-03-05 21:00", None, 300, {}, 50, "2025-03-06 09:10"),
        # daily cap reached today: tomorrow's start
        ("2025-03-05 12:00", "2025-03-05 11:58", 300, {"2025-03-05": 3}, 3, "2025-03-06 09:10"),
        # under the cap: today
        ("2025-03-05 12:00", "2025-03-05 11:58", 300, {"2025-03-05": 2}, 3, "2025-03-05 12:05"),
        # cap reached today and tomorrow: the day after
        ("2025-03-05 12:00", None, 300, {"2025-03-05": 3, "2025-03-06": 3}, 3, "2025-03-07 09:10"),
        # no cap at all
        ("2025-03-05 12:00", None, 300, {"2025-03-05": 10_000}, None, "2025-03-05 12:05"),
    ],
)
def test_it_computes_the_next_slot(now, latest, pause, counts, cap, expected):
    slot = next_slot(
        now=msk(now),
        latest=msk(latest) if latest else None,
        pause_seconds=pause,
        window=WINDOW,
        sent_or_scheduled_that_day=lambda day: counts.get(day.isoformat(), 0),
        cap=cap,
    )
    assert slot == msk(expected)


def test_a_full_friday_moves_to_monday_when_weekends_are_skipped():
    slot = next_slot(
        now=msk("2025-03-07 15:00"),
        latest=None,
        pause_seconds=240,
        window=WEEKDAYS_ONLY,
        sent_or_scheduled_that_day=lambda day: 5 if day == date(2025, 3, 7) else 0,
        cap=5,
    )
    assert slot == msk("2025-03-10 09:10")


def test_a_full_friday_moves_to_saturday_when_weekends_are_allowed():
    slot = next_slot(
        now=msk("2025-03-07 15:00"),
        latest=None,
        pause_seconds=240,
        window=WINDOW,
        sent_or_scheduled_that_day=lambda day: 5 if day == date(2025, 3, 7) else 0,
        cap=5,
    )
    assert slot == msk("2025-03-08 09:10")


def test_it_counts_the_cap_on_the_windows_local_day():
    seen = []

    def counter(day):
        seen.append(day)
        return 0

    # 22:30 UTC on the 4th is 01:30 on the 5th in Moscow.
    next_slot(
        now=datetime(2025, 3, 4, 22, 30, tzinfo=UTC),
        latest=None,
        pause_seconds=0,
        window=WINDOW,
        sent_or_scheduled_that_day=counter,
        cap=1,
    )
    assert seen == [date(2025, 3, 5)]


def test_the_slot_is_never_closer_to_latest_than_the_pause():
    latest = msk("2025-03-05 19:44")
    slot = next_slot(
        now=msk("2025-03-05 10:00"),
        latest=latest,
        pause_seconds=240,
        window=WINDOW,
        sent_or_scheduled_that_day=no_messages,
        cap=50,
    )
    assert slot == msk("2025-03-06 09:10")
    assert (slot - latest).total_seconds() >= 240


def test_it_rejects_a_zero_cap_and_a_negative_pause():
    with pytest.raises(ValueError, match="cap"):
        next_slot(
            now=msk("2025-03-05 10:00"),
            latest=None,
            pause_seconds=1,
            window=WINDOW,
            sent_or_scheduled_that_day=no_messages,
            cap=0,
        )
    with pytest.raises(ValueError, match="pause"):
        next_slot(
            now=msk("2025-03-05 10:00"),
            latest=None,
            pause_seconds=-1,
            window=WINDOW,
            sent_or_scheduled_that_day=no_messages,
            cap=1,
        )


def test_it_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        fit_into_window(datetime(2025, 3, 5, 12, 0), WINDOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:10-19:45", (time(9, 10), time(19, 45))),
        (" 9:10 - 19:45 ", (time(9, 10), time(19, 45))),
        ("00:00-23:59", (time(0, 0), time(23, 59))),
    ],
)
def test_it_parses_windows(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "9-19", "09:10", "09:10-", "25:00-26:00", "09:60-10:00", "19:45-09:10", "10:00-10:00", "nine-five", None],
)
def test_it_rejects_bad_windows(text):
    with pytest.raises(ValueError, match="sending window"):
        parse_window(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("240-480", (240, 480)), ("300", (300, 300)), (" 0 - 10 ", (0, 10)), (60, (60, 60)), ("5-5", (5, 5))],
)
def test_it_parses_spacing(text, expected):
    assert parse_spacing(text) == expected


@pytest.mark.parametrize("text", ["", "480-240", "-5", "4m-8m", "1.5", "240-", "a-b"])
def test_it_rejects_bad_spacing(text):
    with pytest.raises(ValueError, match="spacing"):
        parse_spacing(text)


def test_it_rejects_an_unknown_time_zone():
    with pytest.raises(ValueError, match="time zone"):
        SendingWindow.parse("09:10-19:45", "Mars/Olympus_Mons")
