"""Bar charts as server-side SVG: no external service, no script, no inline style (the site's
Content-Security-Policy forbids both), readable without colour (each bar has a <title> naming its day,
series and value) and always shown next to a table with the same numbers.

Presentation attributes (fill, font-size, text-anchor) are SVG attributes, not CSS, so the policy allows
them; reports.css only sizes the chart to its container.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 820, 340
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 64, 64
MAX_X_LABELS = 14
TEXT = "#1d2330"
MUTED = "#5c6577"
GRID = "#e2e5ea"


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def nice_ceiling(value: float) -> tuple[float, float]:
    """A round top for the axis and its tick step: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0, 0.25
    raw_step = value / 4
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    return step * math.ceil(value / step), step


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def bar_chart(
    *,
    slug: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    stacked: bool = True,
    value_text: Callable[[float], str] = _number,
) -> SafeString:
    """A stacked (or side-by-side) bar chart, one group of bars per x label."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(x_labels)
    if stacked:
        top_value = max((sum(s.values[i] for s in series) for i in range(count)), default=0)
    else:
        top_value = max((v for s in series for v in s.values), default=0)
    axis_top, step = nice_ceiling(float(top_value))

    def y(value: float) -> float:
        return TOP + plot_h - float(value) / axis_top * plot_h

    title_id, desc_id = f"chart-{slug}-title", f"chart-{slug}-desc"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="system-ui, sans-serif">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
        f'<text x="{LEFT}" y="20" font-size="15" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
    ]
    # Legend, under the title.
    x = LEFT
    for s in series:
        parts.append(f'<rect x="{x}" y="32" width="12" height="12" fill="{s.color}"/>')
        parts.append(f'<text x="{x + 16}" y="42" font-size="12" fill="{TEXT}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    # Y axis: gridlines, ticks, label.
    tick = 0.0
    while tick <= axis_top + step / 2:
        ty = y(tick)
        parts.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
            f"{escape(value_text(tick))}</text>"
        )
        tick += step
    mid_y = TOP + plot_h / 2
    parts.append(
        f'<text x="16" y="{mid_y:.1f}" font-size="12" text-anchor="middle" fill="{TEXT}" '
        f'transform="rotate(-90 16 {mid_y:.1f})">{escape(y_label)}</text>'
    )
    # Bars.
    if count:
        band = plot_w / count
        every = max(1, math.ceil(count / MAX_X_LABELS))
        for i, label in enumerate(x_labels):
            band_x = LEFT + i * band
            if stacked:
                width = band * 0.72
                bar_x, base = band_x + (band - width) / 2, 0.0
                for s in series:
                    value = s.values[i]
                    if value:
                        parts.append(
                            _bar(
                                bar_x,
                                y(base + value),
                                width,
                                y(base) - y(base + value),
                                s,
                                label,
                                value_text(value),
                            )
                        )
                    base += value
            else:
                width = band * 0.8 / max(1, len(series))
                for j, s in enumerate(series):
                    value = s.values[i]
                    bar_x = band_x + band * 0.1 + j * width
                    if value:
                        parts.append(
                            _bar(bar_x, y(value), width, y(0) - y(value), s, label, value_text(value))
                        )
            if i % every == 0:
                parts.append(
                    f'<text x="{band_x + band / 2:.1f}" y="{TOP + plot_h + 16}" font-size="11" '
                    f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
                )
    else:
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{mid_y:.1f}" font-size="13" text-anchor="middle" '
            f'fill="{MUTED}">Nothing in this period</text>'
        )
    # X axis line and label.
    parts.append(f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}" stroke="{MUTED}"/>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 14}" font-size="12" text-anchor="middle" '
        f'fill="{TEXT}">{escape(x_label)}</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every piece of text above is escaped


def _bar(x, top, width, height, series: Series, label: str, value: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{max(height, 0.5):.1f}" '
        f'fill="{series.color}">'
        f"<title>{escape(label)} · {escape(series.name)}: {escape(value)}</title></rect>"
    )
