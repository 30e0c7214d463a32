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


@dataclass(frozen=True)
class _Plot:
    """The plotting area: its axis ends at `axis_top`, with a tick every `step`."""

    axis_top: float
    step: float
    width: float = WIDTH - LEFT - RIGHT
    height: float = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.height - float(value) / self.axis_top * self.height

    @property
    def mid_y(self) -> float:
        return TOP + self.height / 2


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
    count = len(x_labels)
    if stacked:
        top_value = max((sum(s.values[i] for s in series) for i in range(count)), default=0)
    else:
        top_value = max((v for s in series for v in s.values), default=0)
    plot = _Plot(*nice_ceiling(float(top_value)))
    title_id, desc_id = f"chart-{slug}-title", f"chart-{slug}-desc"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="system-ui, sans-serif">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
        f'<text x="{LEFT}" y="20" font-size="15" font-weight="600" fill="{TEXT}">{escape(title)}</text>',
        *_legend(series),
        *_y_axis(plot, y_label, value_text),
        *_bars(plot, x_labels, series, stacked=stacked, value_text=value_text),
        *_x_axis(plot, x_label),
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 — every piece of text above is escaped


def _legend(series: Sequence[Series]) -> list[str]:
    """Under the title: a swatch and a name per series."""
    parts, x = [], LEFT
    for s in series:
        parts.append(f'<rect x="{x}" y="32" width="12" height="12" fill="{s.color}"/>')
        parts.append(f'<text x="{x + 16}" y="42" font-size="12" fill="{TEXT}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return parts


def _y_axis(plot: _Plot, y_label: str, value_text: Callable[[float], str]) -> list[str]:
    """Gridlines, ticks and the label."""
    parts, tick = [], 0.0
    while tick <= plot.axis_top + plot.step / 2:
        ty = plot.y(tick)
        parts.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
            f"{escape(value_text(tick))}</text>"
        )
        tick += plot.step
    parts.append(
        f'<text x="16" y="{plot.mid_y:.1f}" font-size="12" text-anchor="middle" fill="{TEXT}" '
        f'transform="rotate(-90 16 {plot.mid_y:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _bars(plot: _Plot, x_labels, series, *, stacked: bool, value_text) -> list[str]:
    """A group of bars per x label, which is written under every `every`th group (or a word that there is
    nothing to show)."""
    if not x_labels:
        return [
            f'<text x="{LEFT + plot.width / 2:.1f}" y="{plot.mid_y:.1f}" font-size="13" text-anchor="middle" '
            f'fill="{MUTED}">Nothing in this period</text>'
        ]
    parts = []
    band = plot.width / len(x_labels)
    every = max(1, math.ceil(len(x_labels) / MAX_X_LABELS))
    for i, label in enumerate(x_labels):
        band_x = LEFT + i * band
        group = _stack if stacked else _side_by_side
        parts += group(plot, band_x, band, [(s, s.values[i]) for s in series], label, value_text)
        if i % every == 0:
            parts.append(
                f'<text x="{band_x + band / 2:.1f}" y="{TOP + plot.height + 16}" font-size="11" '
                f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
            )
    return parts


def _stack(plot: _Plot, band_x: float, band: float, values, label: str, value_text) -> list[str]:
    parts, width = [], band * 0.72
    bar_x, base = band_x + (band - width) / 2, 0.0
    for s, value in values:
        if value:
            top = plot.y(base + value)
            parts.append(_bar(bar_x, top, width, plot.y(base) - top, s, label, value_text(value)))
        base += value
    return parts


def _side_by_side(plot: _Plot, band_x: float, band: float, values, label: str, value_text) -> list[str]:
    parts, width = [], band * 0.8 / max(1, len(values))
    for j, (s, value) in enumerate(values):
        if value:
            bar_x = band_x + band * 0.1 + j * width
            parts.append(
                _bar(bar_x, plot.y(value), width, plot.y(0) - plot.y(value), s, label, value_text(value))
            )
    return parts


def _x_axis(plot: _Plot, x_label: str) -> list[str]:
    """The axis line and its label."""
    axis_y = plot.y(0)
    return [
        f'<line x1="{LEFT}" y1="{axis_y:.1f}" x2="{WIDTH - RIGHT}" y2="{axis_y:.1f}" stroke="{MUTED}"/>',
        f'<text x="{LEFT + plot.width / 2:.1f}" y="{HEIGHT - 14}" font-size="12" text-anchor="middle" '
        f'fill="{TEXT}">{escape(x_label)}</text>',
    ]


def _bar(x, top, width, height, series: Series, label: str, value: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{max(height, 0.5):.1f}" '
        f'fill="{series.color}">'
        f"<title>{escape(label)} · {escape(series.name)}: {escape(value)}</title></rect>"
    )
