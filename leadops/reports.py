"""Reports: one data shape, three renderings (JSON, CSV, a standalone HTML page with inline SVG charts).

Knows nothing about the apps: `telegram_sources.reports` and `vk_sync.reports` build a
`Report` from their own data and declare a `REPORT_SOURCES` list of `ReportSource`s,
which the weekly job (`leadops.report_store`) collects from every installed app.

The CSV is the page's numbers in rows of `section,name,key,column,value`:

    meta    ""            title|subtitle|generated_at|period  ""      text
    metric  ""            <label>                              ""      value
    series  <series>      <YYYY-MM-DD>                         ""      value
    split   <split>       <label>                              ""      count
    table   <table>       <row number, from 1>                 <col>   value
    note    ""            <number, from 1>                     ""      text

and every element of the HTML page that shows one of these carries the same five
fields (`data-section`, `data-name`, `data-key`, `data-column`, its text = value), so a
test can read the page and check it against the CSV row by row. Values are formatted
once (`format_value`) for both; JSON keeps them typed.
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape

from .svg_charts import svg_bar_chart, svg_line_chart

Value = int | float | str | date | datetime | None
CSV_COLUMNS = ("section", "name", "key", "column", "value")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run text starting so as a formula
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@dataclass
class Report:
    title: str
    subtitle: str = ""
    period: str = ""  # e.g. "2024-01-01..2024-03-30": the days the series cover
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metrics: list[tuple[str, Value]] = field(default_factory=list)
    series: dict[str, list[tuple[date, int | float]]] = field(default_factory=dict)
    # (chart title, series names) drawn together; empty: one chart per series.
    charts: list[tuple[str, list[str]]] = field(default_factory=list)
    splits: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    tables: dict[str, tuple[list[str], list[list[Value]]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def chart_groups(self) -> list[tuple[str, list[str]]]:
        return self.charts or [(name, [name]) for name in self.series]


@dataclass(frozen=True)
class ReportSource:
    """What an app offers the weekly job: its objects and how to build each one's report."""

    kind: str  # leadops.models.StoredReport.Kind value
    objects: Callable[[], Iterable]  # model instances with a pk
    build: Callable[[object], Report]


# --- series helpers -------------------------------------------------------------------------------


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def daily_series(counts: dict[date, int], *, start: date, end: date) -> list[tuple[date, int]]:
    """Every day from start to end (inclusive) with its count, 0 for days without one."""
    return [(day, int(counts.get(day, 0))) for day in days_between(start, end)]


def members_over_time(
    *, current: int, joins: Sequence[tuple[date, int]], leaves: Sequence[tuple[date, int]]
) -> list[tuple[date, int]]:
    """Members at the end of each day, walked back from today's count.

    members(end of d) = current - joins after d + leaves after d: exact as long as every leave
    belongs to a join of the same membership (left_at >= first seen), and it ends at `current`.
    """
    joined = dict(joins)
    left = dict(leaves)
    days = sorted(set(joined) | set(left))
    points, count = [], current
    for day in reversed(days):
        points.append((day, count))
        count = count - joined.get(day, 0) + left.get(day, 0)
    return points[::-1]


# --- values ----------------------------------------------------------------------------------------


def format_value(value: Value) -> str:
    """The one text form of a value, for the CSV and the page alike."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_field(value: Value) -> str:
    """format_value, and text (names come from Telegram and VK) never starts a spreadsheet formula."""
    text = format_value(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return f"'{text}"
    return text


def _json_value(value):
    if isinstance(value, datetime | date):
        return format_value(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# --- the three renderings ------------------------------------------------------------------------


def report_rows(report: Report) -> Iterator[tuple[Value, Value, Value, Value, Value]]:
    """The CSV's rows, typed (see the module docstring)."""
    yield ("meta", "", "title", "", report.title)
    yield ("meta", "", "subtitle", "", report.subtitle)
    yield ("meta", "", "generated_at", "", report.generated_at)
    yield ("meta", "", "period", "", report.period)
    for label, value in report.metrics:
        yield ("metric", "", label, "", value)
    for name, points in report.series.items():
        for day, value in points:
            yield ("series", name, day, "", value)
    for name, parts in report.splits.items():
        for label, count in parts:
            yield ("split", name, label, "", count)
    for name, (columns, rows) in report.tables.items():
        for number, row in enumerate(rows, start=1):
            for column, value in zip(columns, row, strict=True):
                yield ("table", name, number, column, value)
    for number, note in enumerate(report.notes, start=1):
        yield ("note", "", number, "", note)


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report_rows(report):
        writer.writerow([csv_field(value) for value in row])
    return out.getvalue()


def parse_csv(text: str) -> list[tuple[str, str, str, str, str]]:
    """The rows of `render_csv` back (without the header), as text: what a test compares with a page."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise ValueError(f"not a report CSV: header {rows[:1]}")
    return [tuple(row) for row in rows[1:]]


def render_json(report: Report) -> str:
    data = {
        "title": report.title,
        "subtitle": report.subtitle,
        "period": report.period,
        "generated_at": report.generated_at,
        "metrics": [{"label": label, "value": value} for label, value in report.metrics],
        "series": {name: [{"date": d, "value": v} for d, v in points] for name, points in report.series.items()},
        "splits": {name: [{"label": lb, "count": c} for lb, c in parts] for name, parts in report.splits.items()},
        "tables": {name: {"columns": list(cols), "rows": rows} for name, (cols, rows) in report.tables.items()},
        "notes": list(report.notes),
    }
    return json.dumps(data, default=_json_value, ensure_ascii=False, indent=2) + "\n"


def _cell(tag: str, section: str, name: Value, key: Value, column: Value, value: Value, extra: str = "") -> str:
    """An element showing one CSV row: the row's fields as data attributes, its value as the text."""
    attrs = " ".join(
        f'data-{attr}="{escape(format_value(v), quote=True)}"'
        for attr, v in (("section", section), ("name", name), ("key", key), ("column", column))
    )
    return f"<{tag} {attrs}{extra}>{escape(format_value(value))}</{tag}>"


STYLE = """
body { font-family: system-ui, sans-serif; color: #222; margin: 0; background: #f6f6f4; }
main { max-width: 980px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 1.6em; } h2 { margin-top: 28px; border-bottom: 1px solid #ddd; }
.subtitle, .generated { color: #555; margin: 2px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.metrics td { min-width: 6em; } .metrics th { font-weight: normal; color: #444; }
.scroll { max-height: 260px; overflow: auto; display: inline-block; }
figure { margin: 12px 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
.notes li { margin: 4px 0; color: #444; }
@media print { .scroll { max-height: none; overflow: visible; } body { background: #fff; } }
"""


def _num_class(value: Value) -> str:
    return ' class="num"' if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _metrics_html(report: Report) -> str:
    if not report.metrics:
        return ""
    rows = "".join(
        f"<tr><th>{escape(label)}</th>"
        + _cell("td", "metric", "", label, "", value, f' data-metric="{escape(label, quote=True)}"')
        + "</tr>"
        for label, value in report.metrics
    )
    return f'<section id="metrics"><h2>Summary</h2><table class="metrics">{rows}</table></section>'


def _series_html(report: Report) -> str:
    if not report.series:
        return ""
    parts = ['<section id="series"><h2>Over time</h2>']
    for title, names in report.chart_groups():
        chart = svg_line_chart({name: report.series[name] for name in names}, title=title)
        parts.append(f"<figure><figcaption>{escape(title)}</figcaption>{chart}</figure>")
        days = sorted({day for name in names for day, _ in report.series[name]})
        values = {name: dict(report.series[name]) for name in names}
        head = "".join(f'<th class="num">{escape(name)}</th>' for name in names)
        body = "".join(
            f"<tr><td>{day.isoformat()}</td>"
            + "".join(
                _cell("td", "series", name, day, "", values[name][day], ' class="num"')
                if day in values[name]
                else "<td></td>"
                for name in names
            )
            + "</tr>"
            for day in days
        )
        parts.append(f'<div class="scroll"><table><tr><th>date</th>{head}</tr>{body}</table></div>')
    parts.append("</section>")
    return "".join(parts)


def _splits_html(report: Report) -> str:
    if not report.splits:
        return ""
    parts = ['<section id="splits"><h2>Splits</h2>']
    for name, rows in report.splits.items():
        chart = svg_bar_chart(rows, title=name)
        body = "".join(
            f"<tr><td>{escape(str(label))}</td>"
            + _cell("td", "split", name, label, "", count, ' class="num"')
            + "</tr>"
            for label, count in rows
        )
        parts.append(
            f"<figure><figcaption>{escape(name)}</figcaption>{chart}</figure>"
            f'<table><tr><th></th><th class="num">count</th></tr>{body}</table>'
        )
    parts.append("</section>")
    return "".join(parts)


def _tables_html(report: Report) -> str:
    parts = []
    for name, (columns, rows) in report.tables.items():
        head = "<th>#</th>" + "".join(f"<th>{escape(column)}</th>" for column in columns)
        body = "".join(
            f'<tr><td class="num">{number}</td>'
            + "".join(
                _cell("td", "table", name, number, column, value, _num_class(value))
                for column, value in zip(columns, row, strict=True)
            )
            + "</tr>"
            for number, row in enumerate(rows, start=1)
        )
        empty = "" if rows else f'<tr><td colspan="{len(columns) + 1}">none</td></tr>'
        parts.append(f"<h2>{escape(name)}</h2><table><tr>{head}</tr>{body}{empty}</table>")
    return f'<section id="tables">{"".join(parts)}</section>' if parts else ""


def _notes_html(report: Report) -> str:
    if not report.notes:
        return ""
    items = "".join(_cell("li", "note", "", n, "", note) for n, note in enumerate(report.notes, start=1))
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{items}</ul></section>'


def render_html(report: Report) -> str:
    """A standalone page: inline CSS and SVG, no script, nothing fetched (its own CSP says so too)."""
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{PAGE_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body><main>",
            _cell("h1", "meta", "", "title", "", report.title),
            _cell("p", "meta", "", "subtitle", "", report.subtitle, ' class="subtitle"'),
            '<p class="generated">Generated ',
            _cell("time", "meta", "", "generated_at", "", report.generated_at),
            " · period ",
            _cell("span", "meta", "", "period", "", report.period),
            "</p>",
            _metrics_html(report),
            _series_html(report),
            _splits_html(report),
            _tables_html(report),
            _notes_html(report),
            "</main></body></html>\n",
        ]
    )
