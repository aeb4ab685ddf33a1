"""Server-rendered SVG charts (no JavaScript, no CDN): vertical bars per month (grouped or
stacked) and horizontal bars per unit. Every chart carries its title, axis labels and the
value on each bar, so it reads at a glance and prints; colours come with a legend and
patterns are never the only carrier of meaning (values are written out)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from services import numbers

PALETTE = {
    "blue": "#0b4f8a",
    "teal": "#1c7c7d",
    "green": "#1c6b3a",
    "amber": "#c77700",
    "red": "#a3161b",
    "grey": "#8a94a3",
    "purple": "#6a3d9a",
}
FONT = 'font-family="Noto Sans, Liberation Sans, Arial, sans-serif"'


@dataclass
class Series:
    label: str
    values: list[float]
    colour: str = "blue"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _integer_top(peak: float) -> float:
    """The axis top for counts: four whole-number steps (1, 2, 5, 10, 20, 25, 50 … each), so
    that no tick reads "0,2 documents"."""
    exponent = 1
    while True:
        for step in (1, 2, 2.5, 5):
            if step * exponent == int(step * exponent) and 4 * step * exponent >= peak:
                return 4 * step * exponent
        exponent *= 10


def _fmt(value: float, percent: bool = False, locale: str = "vi") -> str:
    """Values are percentages 0…100 when `percent`; counts or days otherwise."""
    return numbers.percent(value / 100, locale, short=True) if percent else numbers.decimal(value, locale)


def _legend(series: list[Series], x: float, y: float) -> list[str]:
    parts, cursor = [], x
    for s in series:
        parts.append(f'<rect x="{cursor:.1f}" y="{y - 10:.1f}" width="12" height="12" rx="2" fill="{PALETTE[s.colour]}"/>')
        parts.append(f'<text x="{cursor + 16:.1f}" y="{y:.1f}" font-size="12" fill="#1d2430">{escape(s.label)}</text>')
        cursor += 16 + 7.2 * len(s.label) + 18
    return parts


def column_chart(
    *,
    title: str,
    categories: list[str],
    series: list[Series],
    stacked: bool = False,
    percent: bool = False,
    y_label: str = "",
    width: int = 720,
    height: int = 300,
    integer: bool = True,
    locale: str = "vi",
) -> str:
    """Columns per category (e.g. months): grouped side by side, or stacked; `integer`: the values
    are counts, so the axis ticks are whole numbers."""
    left, right, top, bottom = 48, 12, 46, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(categories))
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    top_value = 100.0 if percent else _integer_top(peak) if integer else _nice_max(peak)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="18" font-size="15" font-weight="700" fill="#1d2430">{escape(title)}</text>',
    ]
    out += _legend(series, left, 38)
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dde5" stroke-width="1"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#5b6472">{_fmt(value, percent, locale)}</text>'
        )
    if y_label:
        out.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="11" fill="#5b6472" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
        )
    slot = plot_w / n
    groups = 1 if stacked else max(1, len(series))
    bar_w = min(48.0, slot * 0.7 / groups)
    for i, category in enumerate(categories):
        x0 = left + slot * i + (slot - bar_w * groups) / 2
        base: float = top + plot_h
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = plot_h * value / top_value if top_value else 0
            x = x0 if stacked else x0 + j * bar_w
            y = base - h
            if h > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{PALETTE[s.colour]}">'
                    f"<title>{escape(category)} — {escape(s.label)}: {_fmt(value, percent, locale)}</title></rect>"
                )
                if stacked and h >= 14:
                    out.append(
                        f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{y + h / 2 + 4:.1f}" font-size="10" fill="#fff" '
                        f'text-anchor="middle">{_fmt(value, percent, locale)}</text>'
                    )
                elif not stacked:
                    out.append(
                        f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{y - 3:.1f}" font-size="10" fill="#1d2430" '
                        f'text-anchor="middle">{_fmt(value, percent, locale)}</text>'
                    )
            if stacked:
                base = y
        if stacked:
            total = sum(s.values[i] for s in series if i < len(s.values))
            if total:
                out.append(
                    f'<text x="{x0 + (bar_w - 2) / 2:.1f}" y="{base - 3:.1f}" font-size="10" font-weight="700" '
                    f'fill="#1d2430" text-anchor="middle">{_fmt(total, percent, locale)}</text>'
                )
        out.append(
            f'<text x="{left + slot * i + slot / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" fill="#1d2430">{escape(category)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#5b6472"/>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    *,
    title: str,
    labels: list[str],
    series: list[Series],
    percent: bool = False,
    goal: float | None = None,
    goal_label: str = "",
    width: int = 720,
    label_width: int = 230,
    max_rows: int = 25,
    integer: bool = True,
    locale: str = "vi",
) -> str:
    """Horizontal stacked bars per label (units, organisations), a goal line if given."""
    labels, series = labels[:max_rows], [Series(s.label, s.values[:max_rows], s.colour) for s in series]
    row_h, top, bottom, right = 24, 50, 28, 40
    height = top + bottom + row_h * max(1, len(labels))
    plot_w = width - label_width - right
    peak = max((sum(s.values[i] for s in series) for i in range(len(labels))), default=0)
    top_value = 100.0 if percent else _integer_top(peak) if integer else _nice_max(peak)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="18" font-size="15" font-weight="700" fill="#1d2430">{escape(title)}</text>',
    ]
    out += _legend(series, 8, 40)
    for k in range(5):
        x = label_width + plot_w * k / 4
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - bottom}" stroke="#d8dde5"/>')
        out.append(
            f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="11" text-anchor="middle" fill="#5b6472">'
            f"{_fmt(top_value * k / 4, percent, locale)}</text>"
        )
    for i, label in enumerate(labels):
        y = top + row_h * i
        short = label if len(label) <= 34 else label[:33] + "…"
        out.append(
            f'<text x="{label_width - 6}" y="{y + 15}" font-size="11" text-anchor="end" fill="#1d2430">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
        )
        x = float(label_width)
        for s in series:
            value = s.values[i] if i < len(s.values) else 0
            w = plot_w * value / top_value if top_value else 0
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{PALETTE[s.colour]}">'
                    f"<title>{escape(label)} — {escape(s.label)}: {_fmt(value, percent, locale)}</title></rect>"
                )
                if w >= 22:
                    out.append(
                        f'<text x="{x + w / 2:.1f}" y="{y + 16}" font-size="10" fill="#fff" text-anchor="middle">'
                        f"{_fmt(value, percent, locale)}</text>"
                    )
            x += w
        if len(series) > 1 or x - label_width < 22:
            total = sum(s.values[i] for s in series if i < len(s.values))
            out.append(f'<text x="{x + 4:.1f}" y="{y + 16}" font-size="10" fill="#1d2430">{_fmt(total, percent, locale)}</text>')
    if goal is not None:
        gx = label_width + plot_w * goal / top_value
        out.append(
            f'<line x1="{gx:.1f}" x2="{gx:.1f}" y1="{top - 6}" y2="{height - bottom}" stroke="#b3124a" '
            f'stroke-width="2" stroke-dasharray="5 3"/>'
        )
        out.append(f'<text x="{gx - 4:.1f}" y="{top - 8}" font-size="11" fill="#b3124a" text-anchor="end">{escape(goal_label)}</text>')
    out.append("</svg>")
    return "".join(out)
