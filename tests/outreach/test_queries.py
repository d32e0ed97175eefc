"""Query generation (text, lr, hash) and night-window scheduling."""

import bisect
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from outreach import queries, regions
from outreach.models import SerpQuery

NOON_UTC = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- regions ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "city",
    ["Москва", "Moscow", "москва", "МОСКВА", "  москва  ", "г. Москва", "город Москва", "Moskva"],
)
def test_moscow_spellings(city):
    assert regions.resolve_lr(city, "") == 213


@pytest.mark.parametrize(
    "city",
    [
        "Санкт-Петербург",  # ASCII hyphen-minus
        "Санкт\u2011Петербург",  # non-breaking hyphen: the original table's spelling
        "Санкт\u2013Петербург",  # en dash
        "Санкт\u2014Петербург",  # em dash
        "Санкт\u2010Петербург",  # hyphen
        "Санкт\u2212Петербург",  # minus sign
        "Санкт - Петербург",
        "санкт петербург",
        "САНКТ-ПЕТЕРБУРГ",
        "Saint Petersburg",
        "St. Petersburg",
        "Sankt-Peterburg",
        "СПб",
    ],
)
def test_saint_petersburg_whatever_the_dash(city):
    assert regions.resolve_lr(city, "Россия") == 2


@pytest.mark.parametrize(
    ("city", "country", "lr"),
    [
        ("Орёл", "", 10),
        ("Орел", "", 10),
        ("Ростов\u2011на\u2011Дону", "", 39),
        ("Rostov-on-Don", "", 39),
        ("Йошкар-Ола", "", 41),
        ("Набережные  Челны", "", 236),
        ("Minsk", "Belarus", 157),
        ("Нигдеград", "Казахстан", 159),  # unknown city -> the country
        ("", "Украина", 187),
        ("", "Беларусь", 149),
        ("", "Belarus", 149),
        ("", "Kazakhstan", 159),
        ("", "россия", 225),
        ("Нигдеград", "Нигдения", 225),  # neither known -> 225
        ("", "", 225),
        ("Москва", "Казахстан", 213),  # the city wins
    ],
)
def test_region_table(city, country, lr):
    assert regions.resolve_lr(city, country) == lr


def test_table_has_sixty_cities_each_with_a_latin_spelling():
    cities = [lr for lr in regions._CITIES if lr not in (1, 10174)]
    assert len(cities) >= 60
    for lr, names in regions._CITIES.items():
        assert any(name.isascii() for name in names), lr
        assert any(not name.isascii() for name in names), lr


def test_unknown_names_give_none():
    assert regions.city_lr("Нигдеград") is None
    assert regions.country_lr("") is None


# --- build_queries ----------------------------------------------------------------
def test_query_hash_is_sha1_of_text_and_lr():
    assert queries.query_hash("кафе Москва", 213) == hashlib.sha1("кафе Москва|213".encode()).hexdigest()
    assert queries.query_hash("кафе Москва", 213) != queries.query_hash("кафе Москва", 1)


def test_build_query_for_a_city():
    (spec,) = queries.build_queries(
        niche="  стоматология \u00a0 детская ",
        city="Санкт\u2011Петербург",
        country="Россия",
        batch_tag="b1",
        now=NOON_UTC,
    )
    assert spec.text == "стоматология детская Санкт-Петербург"
    assert spec.lr == 2
    assert spec.hash == hashlib.sha1("стоматология детская Санкт-Петербург|2".encode()).hexdigest()
    assert spec.scheduled_for == datetime(2025, 3, 10, 21, 0, tzinfo=UTC)
    assert (spec.niche, spec.city, spec.country, spec.batch_tag) == (
        "стоматология детская",
        "Санкт-Петербург",
        "Россия",
        "b1",
    )


def test_dash_variants_give_the_same_query():
    hashes = {
        queries.build_queries(niche="кафе", city=f"Санкт{dash}Петербург", now=NOON_UTC)[0].hash
        for dash in ("-", "\u2011", "\u2013", "\u2212")
    }
    assert len(hashes) == 1


def test_build_query_for_a_country_and_an_unknown_city():
    (by_country,) = queries.build_queries(niche="кафе", city="", country="Казахстан", now=NOON_UTC)
    assert (by_country.text, by_country.lr) == ("кафе Казахстан", 159)
    (unknown,) = queries.build_queries(niche="кафе", city="Нигдеград", country="Казахстан", now=NOON_UTC)
    assert (unknown.text, unknown.lr) == ("кафе Нигдеград", 159)
    (nothing,) = queries.build_queries(niche="кафе", now=NOON_UTC)
    assert (nothing.text, nothing.lr) == ("кафе", 225)


def test_build_queries_refuses_an_empty_niche():
    with pytest.raises(ValueError):
        queries.build_queries(niche=" \u00a0", city="Москва", now=NOON_UTC)


def test_spec_fields_are_serpquery_fields():
    (spec,) = queries.build_queries(niche="кафе", city="Москва", batch_tag="t", now=NOON_UTC)
    row = SerpQuery(**dataclasses.asdict(spec))  # not saved: only the field names matter
    assert (row.text, row.lr, row.hash, row.scheduled_for) == (spec.text, 213, spec.hash, spec.scheduled_for)


def test_offset_spreads_rows():
    first = queries.build_queries(niche="кафе", city="Москва", now=NOON_UTC)[0]
    second = queries.build_queries(niche="бар", city="Москва", now=NOON_UTC, offset=1)[0]
    assert second.scheduled_for - first.scheduled_for == queries.SPACING


# --- the night window -----------------------------------------------------------------
def test_noon_utc_schedules_for_21_utc_the_same_day():
    assert not queries.in_night_window(NOON_UTC)
    assert queries.next_window_start(NOON_UTC) == datetime(2025, 3, 10, 21, 0, tzinfo=UTC)
    assert queries.schedule(1, NOON_UTC) == [datetime(2025, 3, 10, 21, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (datetime(2025, 3, 10, 21, 0, tzinfo=UTC), True),  # 00:00 MSK
        (datetime(2025, 3, 10, 23, 30, tzinfo=UTC), True),
        (datetime(2025, 3, 11, 4, 59, 59, tzinfo=UTC), True),  # 07:59:59 MSK
        (datetime(2025, 3, 11, 5, 0, tzinfo=UTC), False),  # 08:00 MSK
        (datetime(2025, 3, 10, 20, 59, 59, tzinfo=UTC), False),  # 23:59:59 MSK
    ],
)
def test_in_night_window(now, inside):
    assert queries.in_night_window(now) is inside
    assert queries.schedule(1, now) == [now if inside else queries.next_window_start(now)]


def test_inside_the_window_now_is_the_time():
    now = datetime(2025, 3, 10, 22, 15, 7, tzinfo=UTC)
    assert queries.build_queries(niche="кафе", city="Москва", now=now)[0].scheduled_for == now


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        queries.in_night_window(datetime(2025, 3, 10, 12, 0))


# --- spreading ----------------------------------------------------------------------
def _micros(times):
    return [(t - EPOCH) // timedelta(microseconds=1) for t in times]


def _max_in_window(stamps, width_us):
    return max(bisect.bisect_left(stamps, s + width_us) - i for i, s in enumerate(stamps))


def _check(times):
    assert all(t.tzinfo is not None for t in times)
    assert all(queries.in_night_window(t) for t in times)
    stamps = _micros(times)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert _max_in_window(stamps, 1_000_000) <= 10
    assert _max_in_window(stamps, 3_600_000_000) <= 35_000


def test_spreading_50000_respects_10_rps_and_35000_an_hour():
    times = queries.schedule(50_000, NOON_UTC)
    assert len(times) == 50_000
    assert times[0] == datetime(2025, 3, 10, 21, 0, tzinfo=UTC)
    _check(times)
    stamps = _micros(times)
    assert _max_in_window(stamps, 3_600_000_000) == 35_000  # as fast as allowed, no faster
    assert times[-1] < datetime(2025, 3, 10, 23, 0, tzinfo=UTC)  # 50,000 take under 1.5 h


def test_spreading_continues_in_the_next_night():
    late = datetime(2025, 3, 11, 4, 50, tzinfo=UTC)  # 07:50 MSK: ten minutes left
    times = queries.schedule(50_000, late)
    _check(times)
    tonight = [t for t in times if t < datetime(2025, 3, 11, 5, 0, tzinfo=UTC)]
    assert len(tonight) == (600 * 10**6) // (queries.SPACING // timedelta(microseconds=1)) + 1
    assert times[len(tonight)] == datetime(2025, 3, 11, 21, 0, tzinfo=UTC)


def test_more_than_a_night_holds_spills_over():
    times = queries.schedule(queries.PER_WINDOW + 5, NOON_UTC)
    _check(times)
    assert times[queries.PER_WINDOW - 1] < datetime(2025, 3, 11, 5, 0, tzinfo=UTC)
    assert times[queries.PER_WINDOW] == datetime(2025, 3, 11, 21, 0, tzinfo=UTC)


def test_offsets_continue_a_layout():
    whole = queries.schedule(10, NOON_UTC)
    assert queries.schedule(4, NOON_UTC) + queries.schedule(6, NOON_UTC, offset=4) == whole
    late = datetime(2025, 3, 11, 4, 59, 59, tzinfo=UTC)
    whole = queries.schedule(30, late)
    assert queries.schedule(12, late) + queries.schedule(18, late, offset=12) == whole
    _check(whole)


def test_spacing_fits_both_limits():
    per_second, per_hour = timedelta(seconds=1) / queries.MAX_PER_SECOND, timedelta(hours=1) / queries.MAX_PER_HOUR
    assert per_second <= queries.SPACING
    assert per_hour <= queries.SPACING
