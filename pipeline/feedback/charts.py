"""SVG charts drawn by hand: horizontal bars (a funnel), grouped columns and lines (weekly
series) and a rate against its thresholds. No library and nothing fetched: the report is one
file that opens anywhere.

Every chart is `<svg role="img" aria-labelledby="...">` with a `<title>` and a `<desc>`;
the page puts the same numbers in a table beside it for screen readers. Colours are CSS
classes (`s1`..`s4`, `band-ok`, ...) that the page defines for light and dark schemes, so
the drawing code knows no colours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    css: str  # s1..s4: the page's colour for this series


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str
    css: str  # warn | bad: the line's colour


def _n(value: float) -> str:
    """A coordinate, short and stable (no `1e-05`, no `-0.0`)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _open(chart_id: str, title: str, desc: str, height: float) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" role="img" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'width="{WIDTH}" height="{_n(height)}" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )


def _text(x: float, y: float, text: str, css: str = "label", anchor: str = "start") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{css}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def nice_step(largest: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) so `ticks` steps cover `largest`."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def bars(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    values: Sequence[float],
    value_text: Sequence[str],
) -> str:
    """Horizontal bars, one row per label, scaled to the first (largest) value: a funnel."""
    row, label_width, text_width = 34, 170, 150
    height = row * len(labels) + 8
    plot = WIDTH - label_width - text_width
    top = max([*values, 0]) or 1
    parts = [_open(chart_id, title, desc, height)]
    for i, (label, value, shown) in enumerate(zip(labels, values, value_text, strict=True)):
        y = 4 + i * row
        length = plot * value / top
        parts.append(_text(label_width - 8, y + 21, label, anchor="end"))
        parts.append(
            f'<rect x="{label_width}" y="{_n(y + 6)}" width="{_n(length)}" height="22" '
            'class="bar s1"/>'
        )
        parts.append(_text(label_width + length + 6, y + 21, shown, css="value"))
    parts.append("</svg>")
    return "".join(parts)


def _axes(
    parts: list[str], labels: Sequence[str], largest: float, fmt: Formatter, height: float
) -> tuple[float, float, float, float, float]:
    """Grid lines with y ticks and x labels; returns the plot's left, top, width, height and
    the value at its top."""
    left, top, right, bottom = 56.0, 12.0, 8.0, 28.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = nice_step(largest)
    steps = max(1, math.ceil(largest / step))  # 1-4 steps: the top tick just covers the data
    ceiling = step * steps
    for tick in range(steps + 1):
        y = top + plot_h - plot_h * tick / steps
        parts.append(
            f'<line x1="{_n(left)}" x2="{_n(WIDTH - right)}" y1="{_n(y)}" y2="{_n(y)}" '
            'class="grid"/>'
        )
        parts.append(_text(left - 6, y + 4, fmt(step * tick), css="tick", anchor="end"))
    slot = plot_w / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) / 13))  # at most ~13 labels fit under the axis
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            x = left + slot * (i + 0.5)
            parts.append(_text(x, height - 10, label, css="tick", anchor="middle"))
    return left, top, plot_w, plot_h, ceiling


def _legend(parts: list[str], series: Sequence[Series], y: float) -> None:
    x = 56.0
    for one in series:
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" class="{one.css}"/>'
        )
        parts.append(_text(x + 14, y, one.name, css="tick"))
        x += 24 + 7.5 * len(one.name)


@dataclass(frozen=True)
class _Plot:
    """Where a weekly chart draws: the plot's left and top edges, its width and height, the
    value at its top and the width of one label's slot."""

    left: float
    top: float
    width: float
    height: float
    ceiling: float
    slot: float


def _weekly(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
    draw: Callable[[_Plot], list[str]],
) -> str:
    """A chart of series over the labels (weeks): legend, axes and grid, then what `draw`
    puts on the plot."""
    height = 240.0
    parts = [_open(chart_id, title, desc, height + 20)]
    _legend(parts, series, 12)
    body: list[str] = []
    largest = max((v for one in series for v in one.values), default=0)
    left, top, plot_w, plot_h, ceiling = _axes(body, labels, largest, fmt, height)
    slot = plot_w / max(len(labels), 1)
    body.extend(draw(_Plot(left, top, plot_w, plot_h, ceiling, slot)))
    parts.append(f'<g transform="translate(0 20)">{"".join(body)}</g></svg>')
    return "".join(parts)


def columns(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
) -> str:
    """Grouped columns: one group per label (a week), one column per series."""

    def draw(plot: _Plot) -> list[str]:
        width = plot.slot * 0.8 / max(len(series), 1)
        shapes = []
        for s, one in enumerate(series):
            for i, value in enumerate(one.values):
                h = plot.height * value / plot.ceiling
                x = plot.left + plot.slot * i + plot.slot * 0.1 + width * s
                shapes.append(
                    f'<rect x="{_n(x)}" y="{_n(plot.top + plot.height - h)}" '
                    f'width="{_n(max(width - 1, 1))}" height="{_n(h)}" class="bar {one.css}"/>'
                )
        return shapes

    return _weekly(chart_id, title, desc, labels, series, fmt, draw)


def lines(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter,
) -> str:
    """One line per series across the labels (weeks), with a dot at each value."""

    def draw(plot: _Plot) -> list[str]:
        shapes = []
        for one in series:
            points = [
                (
                    plot.left + plot.slot * (i + 0.5),
                    plot.top + plot.height - plot.height * v / plot.ceiling,
                )
                for i, v in enumerate(one.values)
            ]
            path = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
            shapes.append(f'<polyline points="{path}" class="line {one.css}"/>')
            shapes.extend(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" class="dot {one.css}"/>'
                for x, y in points
            )
        return shapes

    return _weekly(chart_id, title, desc, labels, series, fmt, draw)


def rate(
    chart_id: str,
    title: str,
    desc: str,
    value: float,
    thresholds: Sequence[Threshold],
    fmt: Formatter,
) -> str:
    """A rate as one bar over bands (fine / warning / review) with a line at each threshold.

    The scale runs to half again the highest threshold, so the thresholds stay apart and
    readable; a rate beyond it fills the bar and says its value inside."""
    height, left, right, bar_y = 96.0, 8.0, 8.0, 40.0
    plot_w = WIDTH - left - right
    highest = max((t.value for t in thresholds), default=value) or 1.0
    ceiling = highest * 1.5

    def x_of(v: float) -> float:
        return left + plot_w * min(v, ceiling) / ceiling

    parts = [_open(chart_id, title, desc, height)]
    edges = sorted(t.value for t in thresholds)
    bands = ["band-ok", *(["band-warn"] * (len(edges) - 1)), "band-bad"] if edges else []
    start = 0.0
    for edge, css in zip([*edges, ceiling], bands, strict=False):
        parts.append(
            f'<rect x="{_n(x_of(start))}" y="24" width="{_n(x_of(edge) - x_of(start))}" '
            f'height="48" class="{css}"/>'
        )
        start = edge
    parts.append(
        f'<rect x="{_n(left)}" y="{_n(bar_y)}" width="{_n(x_of(value) - left)}" height="16" '
        'class="bar s1"/>'
    )
    for i, threshold in enumerate(thresholds):
        x = x_of(threshold.value)
        parts.append(
            f'<line x1="{_n(x)}" x2="{_n(x)}" y1="20" y2="76" class="threshold {threshold.css}"/>'
        )
        anchor = "end" if x > WIDTH * 0.7 else "start"
        offset = -4 if anchor == "end" else 4
        y = 16 if i % 2 == 0 else 90
        parts.append(_text(x + offset, y, threshold.label, css="tick", anchor=anchor))
    end = x_of(value)
    if end > WIDTH - 80:  # no room after the bar: the value goes inside it, in reverse
        parts.append(_text(end - 6, bar_y + 13, fmt(value), css="value inverse", anchor="end"))
    else:
        parts.append(_text(end + 6, bar_y + 13, fmt(value), css="value"))
    parts.append("</svg>")
    return "".join(parts)
