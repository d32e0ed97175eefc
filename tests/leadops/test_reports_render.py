"""leadops.reports: one Report rendered as CSV, JSON and a standalone HTML page that agree with each other."""

import json
import re
from datetime import UTC, date, datetime

import pytest

from leadops.reports import (
    CSV_COLUMNS,
    Report,
    daily_series,
    format_value,
    members_over_time,
    parse_csv,
    render_csv,
    render_html,
    render_json,
)
from leadops.svg_charts import nice_max, svg_bar_chart, svg_line_chart
from tests.leadops.report_pages import page_rows, unquote_formula

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)


def sample(**changes) -> Report:
    fields = dict(
        title="Report of <Synthetic & Co>",
        subtitle="@synthetic_group · id -100123",
        period="2024-03-01..2024-03-03",
        generated_at=datetime(2024, 3, 3, 12, 30, tzinfo=UTC),
        metrics=[("Members now", 42), ("Jaccard", 0.25), ("Last export", None), ("Overlap", "no reference data")],
        series={"joins": [(D1, 3), (D2, 0), (D3, 5)], "leaves": [(D1, 1), (D2, 2), (D3, 0)]},
        charts=[("Joins and leaves", ["joins", "leaves"])],
        splits={"Gender": [("male", 20), ("female", 15), ("unknown", 5), ("not computed", 2)]},
        tables={
            "Top users": (
                ["telegram_id", "username", "offline_cnt", "last_offline_at", "in_reference"],
                [
                    [5001, "anna_example", 12, datetime(2024, 2, 1, 18, 0, tzinfo=UTC), True],
                    [5002, "", 7, None, False],
                ],
            )
        },
        notes=["Synthetic data only."],
    )
    return Report(**{**fields, **changes})


def test_every_value_on_the_page_is_a_row_of_the_csv_and_back():
    report = sample()

    page = page_rows(render_html(report))
    rows = parse_csv(render_csv(report))

    assert sorted((*row[:4], unquote_formula(row[4])) for row in rows) == sorted(page)
    assert len(page) == len(set(page))  # nothing shown twice under one key
    assert ("meta", "", "subtitle", "", "'@synthetic_group · id -100123") in rows  # '@: not a formula
    assert ("metric", "", "Members now", "", "42") in rows
    assert ("metric", "", "Jaccard", "", "0.2500") in rows
    assert ("series", "joins", "2024-03-03", "", "5") in rows
    assert ("split", "Gender", "not computed", "", "2") in rows
    assert ("table", "Top users", "1", "last_offline_at", "2024-02-01T18:00:00+00:00") in rows
    assert ("table", "Top users", "2", "in_reference", "no") in rows
    assert ("meta", "", "generated_at", "", "2024-03-03T12:30:00+00:00") in rows


def test_the_csv_has_a_fixed_header_and_one_row_per_value():
    text = render_csv(sample())

    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = parse_csv(text)
    # 4 meta + 4 metrics + 6 series points + 4 split parts + 2 rows x 5 columns + 1 note
    assert len(rows) == 4 + 4 + 6 + 4 + 10 + 1


def test_the_json_carries_the_same_numbers_typed():
    report = sample()

    data = json.loads(render_json(report))

    assert data["metrics"][0] == {"label": "Members now", "value": 42}
    assert data["metrics"][2] == {"label": "Last export", "value": None}
    assert data["series"]["joins"] == [
        {"date": "2024-03-01", "value": 3},
        {"date": "2024-03-02", "value": 0},
        {"date": "2024-03-03", "value": 5},
    ]
    assert data["splits"]["Gender"][1] == {"label": "female", "count": 15}
    assert data["tables"]["Top users"]["rows"][0][3] == "2024-02-01T18:00:00+00:00"
    csv_values = {(r[0], r[2]): r[4] for r in parse_csv(render_csv(report)) if r[0] == "metric"}
    for metric in data["metrics"]:
        assert csv_values[("metric", metric["label"])] == format_value(metric["value"])


def test_the_page_fetches_nothing_and_runs_nothing():
    html = render_html(sample())

    assert not re.search(r"https?:|//[a-z]|\bsrc=|\bhref=|url\(|@import|<script|<link|<iframe|xmlns", html, re.I)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count("<svg") == 2  # the joins/leaves chart and the gender bars


def test_names_from_telegram_are_escaped_on_the_page_and_defused_in_the_csv():
    hostile = '<script>alert("x")</script>'
    report = sample(
        title=hostile,
        tables={"Top users": (["username", "first_name"], [['=HYPERLINK("x")', '"><img onerror=x>']])},
        splits={'<b class="x">': [("a<b", 1)]},
    )

    html = render_html(report)
    rows = parse_csv(render_csv(report))

    assert "<script>" not in html and "<img" not in html and '<b class="x">' not in html
    assert "&lt;script&gt;" in html
    assert ("table", "Top users", "1", "username", '\'=HYPERLINK("x")') in rows
    assert ("meta", "", "title", "", hostile) in rows  # a CSV cell may hold it as text
    shown = {row[:4]: row[4] for row in page_rows(html)}
    assert shown[("table", "Top users", "1", "username")] == '=HYPERLINK("x")'
    assert shown[("split", '<b class="x">', "a<b", "")] == "1"


def test_an_empty_report_still_renders():
    report = Report(title="Nothing yet")

    html = render_html(report)

    assert "Nothing yet" in html
    assert page_rows(html) == parse_csv(render_csv(report))
    assert json.loads(render_json(report))["series"] == {}


def test_series_fill_missing_days_with_zero():
    assert daily_series({D2: 4}, start=D1, end=D3) == [(D1, 0), (D2, 4), (D3, 0)]


def test_members_are_walked_back_from_todays_count():
    joins = [(D1, 3), (D2, 0), (D3, 5)]
    leaves = [(D1, 1), (D2, 2), (D3, 0)]

    points = members_over_time(current=42, joins=joins, leaves=leaves)

    # end of D3: 42; end of D2: 42 - 5 + 0 = 37; end of D1: 37 - 0 + 2 = 39
    assert points == [(D1, 39), (D2, 37), (D3, 42)]


def test_the_line_chart_draws_one_point_per_value_with_its_tooltip():
    svg = svg_line_chart({"joins": [(D1, 3), (D2, 0), (D3, 5)]}, title="Joins")

    assert svg.count("<circle") == 3
    assert "joins 2024-03-03: 5" in svg
    assert "<polyline" in svg


@pytest.mark.parametrize("points", [{}, {"joins": []}])
def test_a_chart_without_data_says_so(points):
    assert "no data" in svg_line_chart(points, title="t")
    assert "no data" in svg_bar_chart([], title="t")


def test_the_bar_chart_labels_each_bar_with_its_value():
    svg = svg_bar_chart([("male", 20), ("female", 0)], title="Gender")

    assert svg.count("<rect") == 2
    assert "male: 20" in svg and "female: 0" in svg


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (42, 50), (0.3, 0.5), (120, 200), (240, 250)]
)
def test_the_y_axis_ends_on_a_round_number(value, top):
    assert nice_max(value) == pytest.approx(top)
