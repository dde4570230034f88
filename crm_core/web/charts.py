"""Small server-rendered SVG charts: no script, no inline styles (the CSP allows neither).

Only numbers and escaped labels go into the markup, so a chart is as safe as any other text.
Colours come from CSS classes (`series-0`, `series-1`, ...) in the site's stylesheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 360, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _label(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.0f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
    markers: bool = False,
) -> Markup:
    """Lines over shared axes; `diagonal` draws the y = x reference (chance, perfect calibration)."""
    ys = [y for s in series for _, y in s.points]
    y_low, y_high = y_range or (min([0.0, *ys]), max([1.0, *ys]))
    x_low, x_high = x_range
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / ((x_high - x_low) or 1.0) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y_low) / ((y_high - y_low) or 1.0) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in _ticks(y_low, y_high):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(tick):.1f}" y2="{py(tick):.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 4}" y="{py(tick) + 3:.1f}" text-anchor="end">{_label(tick)}</text>'
        )
    for tick in _ticks(x_low, x_high):
        parts.append(
            f'<text class="tick" x="{px(tick):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{_label(tick)}</text>"
        )
    parts.append(
        f'<text class="axis" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text class="axis" x="10" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 10 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>'
    )
    if diagonal:
        low, high = max(x_low, y_low), min(x_high, y_high)
        parts.append(
            f'<line class="reference" x1="{px(low):.1f}" y1="{py(low):.1f}" x2="{px(high):.1f}" y2="{py(high):.1f}"/>'
        )
    for index, line in enumerate(series):
        if not line.points:
            continue
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line.points)
        parts.append(
            f'<polyline class="line series-{index % 4}" points="{coords}"><title>{escape(line.name)}</title></polyline>'
        )
        if markers:
            parts.extend(
                f'<circle class="dot series-{index % 4}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5"/>'
                for x, y in line.points
            )
    for index, line in enumerate(series):
        y = TOP + 12 + index * 14
        parts.append(
            f'<rect class="key series-{index % 4}" x="{WIDTH - RIGHT - 110}" y="{y - 8}" width="10" height="10"/>'
        )
        parts.append(f'<text class="legend" x="{WIDTH - RIGHT - 96}" y="{y + 1}">{escape(line.name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: str = "{:.3f}",
    warn_above: float | None = None,
    calm: Sequence[bool] = (),
) -> Markup:
    """Horizontal bars, largest first as given; bars above `warn_above` get the `warn` class,
    unless `calm` marks them as explained (the same position in `calm` is True)."""
    row, label_w, width = 18, 170, WIDTH + 60
    height = TOP + row * max(1, len(bars)) + 8
    top = max([value for _, value in bars] + [warn_above or 0.0, 1e-9])
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(bars):
        y = TOP + index * row
        length = max(0.0, value) / top * (width - label_w - 60)
        explained = index < len(calm) and calm[index]
        css = "bar warn" if warn_above is not None and value > warn_above and not explained else "bar"
        parts.append(f'<text class="tick" x="{label_w - 6}" y="{y + 11}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect class="{css}" x="{label_w}" y="{y}" width="{length:.1f}" height="{row - 5}"/>')
        parts.append(
            f'<text class="tick" x="{label_w + length + 4:.1f}" y="{y + 11}">'
            f"{escape(value_format.format(value))}</text>"
        )
    if warn_above is not None:
        x = label_w + warn_above / top * (width - label_w - 60)
        parts.append(f'<line class="reference" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{height - 4}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
