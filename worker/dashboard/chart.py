"""Shares per day by state, drawn here as an SVG stacked bar chart.

Drawn on the server so the page needs no script: the SVG goes inline into
the overview.  Each bar has a ``<title>`` so a hover shows the numbers.
"""

from __future__ import annotations

from html import escape

from worker.dashboard.models import STATE_LABELS, STATES, ChartDay

# One colour per state; the CSS legend uses the same classes.
COLOURS = {
    "published": "#2f9e44",
    "retry_wait": "#f08c00",
    "failed": "#e03131",
    "unconfirmed": "#9c36b5",
    "skipped": "#868e96",
    "queued": "#1c7ed6",
    "sending": "#15aabf",
}

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26


def _nice_max(value: int) -> int:
    """A round top for the y axis (1, 2, 5 × 10ⁿ) at or above ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= step * factor:
                return step * factor
        step *= 10


def svg_chart(days: list[ChartDay]) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max([sum(d.counts.values()) for d in days] + [1]))
    slot = plot_w / max(len(days), 1)
    bar = slot * 0.7
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="deliveries per day by state">'
    ]
    for i in range(5):  # horizontal grid lines with their values
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{value:g}</text>"
        )
    for index, day in enumerate(days):
        x = LEFT + slot * index + (slot - bar) / 2
        y = TOP + plot_h
        total = sum(day.counts.values())
        for state in STATES:
            count = day.counts.get(state, 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            label = f"{day.day.isoformat()}: {count} {STATE_LABELS[state]}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[state]}"><title>{escape(label)}</title></rect>'
            )
        if len(days) <= 16 or index % 2 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" class="axis" '
                f'text-anchor="middle">{escape(day.day.strftime("%b %d"))}</text>'
            )
        if total:
            parts.append(f"<!-- {day.day.isoformat()} total {total} -->")
    parts.append("</svg>")
    return "".join(parts)
