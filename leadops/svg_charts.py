"""Small inline SVG charts for the standalone report pages: no script, no font, no URL of any kind.

The SVG is meant to sit inside an HTML5 page, so it carries no `xmlns` (the one
URL an SVG would otherwise need): a report page opened from a disk or a mail
attachment fetches nothing. Every label is escaped; the numbers a chart shows are
also printed as text next to it by `leadops.reports`, the chart only draws them.
"""

from collections.abc import Sequence
from datetime import date
from html import escape
from math import ceil, floor, log10

PALETTE = ("#2f6fb3", "#d0582a", "#3a9a5b", "#8a4fb5", "#b59a1f", "#666666")
FONT = 'font-family="sans-serif" font-size="11" fill="#333"'


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= value (and 1 for nothing), for the y axis."""
    if value <= 0:
        return 1
    magnitude = 10 ** floor(log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            top = step * magnitude
            return int(top) if float(top).is_integer() else top
    return value  # unreachable: 10 * magnitude > value


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _attr(value) -> str:
    return escape(str(value), quote=True)


def _empty(width: int, height: int, title: str, message: str = "no data") -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
        f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" {FONT}>{escape(message)}</text></svg>'
    )


def svg_line_chart(
    series: dict[str, Sequence[tuple[date, float]]],
    *,
    title: str = "",
    width: int = 720,
    height: int = 240,
) -> str:
    """One line per series over shared dates (x: the union of the dates in order; y: from 0).

    Each point is a small circle whose tooltip says date and value; a legend names the series.
    """
    days = sorted({day for points in series.values() for day, _ in points})
    if not days:
        return _empty(width, height, title)
    left, right, top, bottom = 48, 12, 24 if len(series) > 1 else 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = nice_max(max((value for points in series.values() for _, value in points), default=0))
    index = {day: i for i, day in enumerate(days)}
    step = plot_w / (len(days) - 1) if len(days) > 1 else 0

    def x(day: date) -> float:
        return left + (index[day] * step if len(days) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - (value / y_max) * plot_h

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left + plot_w}" y2="{top}" stroke="#eee"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" {FONT}>{number(y_max)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end" {FONT}>0</text>',
    ]
    label_days = [days[0]] if len(days) == 1 else [days[0], days[len(days) // 2], days[-1]]
    for i, day in enumerate(dict.fromkeys(label_days)):
        anchor = "start" if i == 0 and len(days) > 1 else "end" if day == days[-1] and len(days) > 1 else "middle"
        parts.append(f'<text x="{x(day):.1f}" y="{height - 8}" text-anchor="{anchor}" {FONT}>{day.isoformat()}</text>')
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        ordered = sorted(points)
        coords = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in ordered)
        parts.append(f'<g class="series" data-series="{_attr(name)}">')
        if len(ordered) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        for day, value in ordered:
            parts.append(
                f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(name)} {day.isoformat()}: {number(value)}</title></circle>"
            )
        parts.append("</g>")
        if len(series) > 1:
            lx = left + n * 140
            parts.append(f'<rect x="{lx}" y="4" width="12" height="12" fill="{color}"/>')
            parts.append(f'<text x="{lx + 16}" y="14" {FONT}>{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str = "",
    width: int = 480,
    bar_height: int = 20,
) -> str:
    """Horizontal bars, one per (label, value), with the label on the left and the value at the bar's end."""
    label_w, gap, value_w = 130, 6, 60
    height = max(1, len(bars)) * (bar_height + gap) + gap
    if not bars:
        return _empty(width, 60, title)
    plot_w = width - label_w - value_w
    top = nice_max(max(value for _, value in bars))
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_attr(title)}"><title>{escape(title)}</title>'
    ]
    for n, (label, value) in enumerate(bars):
        y = gap + n * (bar_height + gap)
        length = max(0.0, value / top * plot_w)
        color = PALETTE[n % len(PALETTE)]
        text_y = y + bar_height * 0.7
        parts.append(
            f'<text x="{label_w - 6}" y="{text_y:.1f}" text-anchor="end" {FONT}>{escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{ceil(length) if value else 0}" height="{bar_height}" '
            f'fill="{color}"><title>{escape(str(label))}: {number(value)}</title></rect>'
            f'<text x="{label_w + length + 4:.1f}" y="{text_y:.1f}" {FONT}>{number(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
