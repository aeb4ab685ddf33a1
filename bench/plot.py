"""A small line chart as PNG with Pillow (a dependency already), for figures in bench/RESULTS.md:
no plotting library for one chart. The x axis is logarithmic (client counts span 1,000–10,000)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 900, 560
LEFT, RIGHT, TOP, BOTTOM = 90, 230, 60, 70  # margins: the legend sits on the right
COLOURS = ("#1f5fa8", "#7fa8d8", "#c0392b", "#e6958d", "#2e7d32", "#9ccc65")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def _nice_max(value: float) -> float:
    """The top of the y axis: 1, 2 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def line_chart(path: Path, *, title: str, x_label: str, y_label: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> None:
    """Draw each (label, points) as a line with dots; x on a log scale, y linear from 0."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    small, big = _font(14), _font(18)
    xs = sorted({x for _, points in series for x, _ in points})
    y_top = _nice_max(max((y for _, points in series for _, y in points), default=1.0))
    x_lo, x_hi = math.log10(min(xs)), math.log10(max(xs))
    span = (x_hi - x_lo) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        px = LEFT + (math.log10(x) - x_lo) / span * plot_w if x_hi > x_lo else LEFT + plot_w / 2
        return px, TOP + plot_h - y / y_top * plot_h

    draw.text((LEFT, 18), title, fill="black", font=big)
    draw.rectangle((LEFT, TOP, LEFT + plot_w, TOP + plot_h), outline="#444444")
    for i in range(6):  # y grid and labels
        y = y_top * i / 5
        _, py = at(xs[0], y)
        draw.line((LEFT, py, LEFT + plot_w, py), fill="#e0e0e0")
        draw.text((LEFT - 10, py), f"{y:g}", fill="black", font=small, anchor="rm")
    for x in xs:  # one tick per measured client count
        px, _ = at(x, 0)
        draw.line((px, TOP, px, TOP + plot_h), fill="#e0e0e0")
        draw.text((px, TOP + plot_h + 8), f"{x:,.0f}", fill="black", font=small, anchor="mt")
    draw.text((LEFT + plot_w / 2, HEIGHT - 22), x_label, fill="black", font=small, anchor="mm")
    draw.text((12, TOP - 24), y_label, fill="black", font=small)
    for n, (label, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        placed = [at(x, y) for x, y in sorted(points)]
        if len(placed) > 1:
            draw.line(placed, fill=colour, width=3)
        for px, py in placed:
            draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=colour)
        ly = TOP + 10 + n * 26
        draw.line((WIDTH - RIGHT + 20, ly, WIDTH - RIGHT + 50, ly), fill=colour, width=3)
        draw.text((WIDTH - RIGHT + 58, ly), label, fill="black", font=small, anchor="lm")
    image.save(path)
