"""Server-rendered SVG charts: the same markup goes on the dashboards and into the WeasyPrint dossiers.

Pure functions: data in, an SVG string out. WeasyPrint's SVG renderer is smaller than a browser's, so the charts keep
to what both draw alike: presentation attributes (no CSS variables; the `chart-*` classes are hooks, not styling), no
foreignObject, no dominant-baseline (WeasyPrint approximates it; every text sits on its alphabetic baseline), one font.
Ids are derived from the inputs, never random, so the output is reproducible and two charts on a page do not clash.
"""

import hashlib
import math
from collections.abc import Iterable
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

# The palette of static/css/app.css. Every text colour has a contrast of at least 4.5:1 on white.
NAVY = "#0b3954"
TEAL = "#0e7c6b"
TEAL_LIGHT = "#e3f4f1"
OK = "#116b3a"
DANGER = "#b42318"
MUTED = "#55606e"
GRID = "#d8dee6"
TRACK = "#eef1f5"
INK = "#1c2430"
FONT = "DejaVu Sans, sans-serif"
FONT_SIZE = 12
# DejaVu Sans is wide: about 0.62 em per character on average, a little more in bold. Only used to keep labels apart.
CHAR_WIDTH = 0.64

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cumulative_chart(
    points: list[tuple[date, int]],
    *,
    target: int,
    start: date,
    end: date,
    forecast: date | None = None,
    title: str,
    unit: str = "cases",
    width=640,
    height=260,
) -> SafeString:
    """Cumulative count over time as a step line, with the target and, if given, the projection to the forecast."""
    points = _cumulative_points(points)
    last_date, last_value = points[-1] if points else (None, 0)
    reached = bool(points) and last_value >= target
    projecting = forecast is not None and bool(points) and not reached and forecast >= last_date

    # The x axis runs from start to end, widened to show data past the end and the forecast date.
    lo = start
    hi = max([end, *(d for d, _ in points), *([forecast] if projecting else [])])
    y_ticks = _nice_ticks(max(target, last_value) * 1.1)
    y_top = y_ticks[-1]

    # The left margin grows with the widest y label ("12,000"), so no label is cut off.
    left = max(48, round(_text_width(f"{y_top:,}")) + 14)
    right, top, bottom = 20, 26, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((hi - lo).days, 1)

    def x_of(day: date) -> float:
        return left + plot_w * min(max((day - lo).days, 0), span) / span

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value / y_top)

    chart_id = _chart_id("cumulative", points, target, start, end, forecast, title, unit, width, height)
    parts = []
    labels = []  # the bounding boxes of texts already placed, to keep the next ones clear of them

    # Grid and y axis.
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(_line(left, y, left + plot_w, y, stroke=GRID if tick else MUTED))
        parts.append(_text(left - 8, y + 4, f"{tick:,}", fill=MUTED, anchor="end"))
    parts.append(_text(4, top - 12, unit, fill=MUTED))

    # X axis: month ticks, thinned so the labels do not touch; the year under January and under the first tick.
    # A range inside one month has no month tick: label its first day instead.
    month_ticks = _month_ticks(lo, hi, max_labels=max(2, plot_w // 56))
    previous_year = None
    for day in month_ticks or [lo]:
        x = x_of(day)
        label = MONTHS[day.month - 1] if month_ticks else f"{day.day} {MONTHS[day.month - 1]}"
        parts.append(_line(x, top, x, top + plot_h, stroke=GRID))
        parts.append(_line(x, top + plot_h, x, top + plot_h + 4, stroke=MUTED))
        parts.append(_text(x, top + plot_h + 17, label, fill=MUTED, anchor="middle"))
        if day.year != previous_year:
            parts.append(_text(x, top + plot_h + 31, str(day.year), fill=MUTED, anchor="middle"))
            previous_year = day.year
    parts.append(_line(left, top, left, top + plot_h, stroke=MUTED))

    if points:
        # The light area under the step line goes first, behind the grid and every line.
        path = _step_path(points, lo, x_of, y_of)
        baseline = y_of(0)
        area = f"{path} L{_n(x_of(last_date))},{_n(baseline)} L{_n(x_of(points[0][0]))},{_n(baseline)} Z"
        parts.insert(0, f'<path d="{area}" fill="{TEAL_LIGHT}" stroke="none"/>')

    # The target line; its label is placed last, clear of the labels tied to data points.
    target_y = y_of(target)
    target_colour = OK if reached else NAVY
    parts.append(
        _line(left, target_y, left + plot_w, target_y, stroke=target_colour, width=1.5, dash="6 4", cls="chart-target")
    )
    if not points:
        parts.append(
            _text(left + plot_w / 2, top + plot_h / 2 + 20, "No signed cases yet", fill=MUTED, anchor="middle", size=14)
        )
    else:
        parts.append(
            f'<path class="chart-series" d="{_step_path(points, lo, x_of, y_of)}" fill="none" stroke="{TEAL}"'
            ' stroke-width="2.5" stroke-linejoin="round"/>'
        )
        last_x, last_y = x_of(last_date), y_of(last_value)
        if projecting:
            fx, fy = x_of(forecast), target_y
            parts.append(_line(last_x, last_y, fx, fy, stroke=TEAL, width=2, dash="4 4", cls="chart-projection"))
            parts.append(f'<circle cx="{_n(fx)}" cy="{_n(fy)}" r="4" fill="#ffffff" stroke="{TEAL}" stroke-width="2"/>')
            label = f"Forecast {_format_date(forecast)}"
            # Above the target line, centred on the marker unless that would cut it off at an edge.
            x, anchor = _fit_anchor(fx, label, left, left + plot_w)
            y = target_y - 10
            parts.append(_text(x, y, label, fill=TEAL, anchor=anchor, weight="bold"))
            labels.append(_box(x, y, label, anchor))
        parts.append(
            f'<circle class="chart-last" cx="{_n(last_x)}" cy="{_n(last_y)}" r="4" fill="{TEAL}"'
            ' stroke="#ffffff" stroke-width="1.5"/>'
        )
        # Up and to the left of the dot: the step line only ever comes in from below there.
        value_label = f"{last_value:,}"
        x, y, anchor = _place(
            [
                (last_x - 7, last_y - 8, "end"),
                (last_x - 7, last_y + 18, "end"),
                (last_x + 7, last_y + 16, "start"),
                (last_x + 7, last_y - 8, "start"),
            ],
            value_label,
            labels,
            left,
            left + plot_w,
        )
        parts.append(_text(x, y, value_label, fill=INK, anchor=anchor, weight="bold"))
        labels.append(_box(x, y, value_label, anchor))

    # At the left end, where the data is usually far below the target; else at the right end, else under the line.
    target_label = f"Target {target:,}"
    x, y, anchor = _place(
        [(left + 6, target_y - 6, "start"), (left + plot_w, target_y - 6, "end"), (left + 6, target_y + 16, "start")],
        target_label,
        labels,
        left,
        left + plot_w,
    )
    parts.append(_text(x, y, target_label, fill=target_colour, anchor=anchor, weight="bold"))

    if not points:
        summary = f"No signed {unit} yet; the target is {target:,} {unit}."
    else:
        summary = f"{last_value:,} of {target:,} {unit} as of {_format_date(last_date)}"
        if reached:
            summary += "; the target is reached."
        elif projecting:
            summary += f"; projected to reach the target on {_format_date(forecast)}."
        else:
            summary += "."
    return _svg(chart_id, width, height, title, summary, parts)


def share_bar(*, virtual: int, in_person: int, cap_percent: int | None, width=640, height=56) -> SafeString:
    """In-person and virtual cases as one stacked bar, with a marker at the maximum virtual share (none when no cap
    applies, e.g. a ruleset without the virtual overlay)."""
    total = virtual + in_person
    chart_id = _chart_id("share", virtual, in_person, cap_percent, width, height)
    left, right = 2, 2
    bar_w = width - left - right
    bar_y, bar_h = 20, 18
    cap_x = left + bar_w * (100 - (cap_percent if cap_percent is not None else 100)) / 100
    cap_words = f"the maximum virtual share is {cap_percent}%" if cap_percent is not None else "no maximum applies"
    parts = [f'<rect x="{left}" y="{bar_y}" width="{bar_w}" height="{bar_h}" fill="{TRACK}"/>']

    if total == 0:
        parts.append(_text(left + bar_w / 2, bar_y + 13, "No cases yet", fill=MUTED, anchor="middle"))
        summary = f"No cases yet; {cap_words}."
    else:
        over = cap_percent is not None and virtual * 100 > cap_percent * total
        virtual_colour = DANGER if over else TEAL
        virtual_pct, in_person_pct = _percents(virtual, total, cap_percent if cap_percent is not None else 100)
        split_x = left + bar_w * in_person / total
        if in_person:
            parts.append(
                f'<rect x="{left}" y="{bar_y}" width="{_n(split_x - left)}" height="{bar_h}" fill="{NAVY}"'
                ' class="chart-in-person"/>'
            )
        if virtual:
            parts.append(
                f'<rect x="{_n(split_x)}" y="{bar_y}" width="{_n(left + bar_w - split_x)}" height="{bar_h}"'
                f' fill="{virtual_colour}" class="chart-virtual"/>'
            )
        if in_person and virtual:
            parts.append(_line(split_x, bar_y, split_x, bar_y + bar_h, stroke="#ffffff", width=2))
        in_person_label = f"In person {in_person_pct}% ({in_person:,})"
        virtual_label = f"Virtual {virtual_pct}% ({virtual:,})" + (" over the cap" if over else "")
        if _text_width(in_person_label + virtual_label) + 16 > bar_w:
            # A narrow bar: drop the counts, keep the percentages and the words that do not rely on colour.
            in_person_label = f"In person {in_person_pct}%"
            virtual_label = f"Virtual {virtual_pct}%" + (" over cap" if over else "")
        parts.append(_text(left, 14, in_person_label, fill=NAVY, weight="bold"))
        parts.append(_text(left + bar_w, 14, virtual_label, fill=virtual_colour, anchor="end", weight="bold"))
        summary = (
            f"{in_person:,} in person ({in_person_pct}%) and {virtual:,} virtual ({virtual_pct}%); "
            f"{cap_words}" + ("; the virtual share is over the maximum." if over else ".")
        )

    if cap_percent is not None:
        # The cap marker: a dark tick with a white halo, so it shows on the navy, teal and red segments alike.
        parts.append(_line(cap_x, bar_y + 1, cap_x, bar_y + bar_h - 1, stroke="#ffffff", width=5))
        parts.append(_line(cap_x, bar_y - 4, cap_x, bar_y + bar_h + 4, stroke=INK, width=2, cls="chart-cap"))
        cap_label = f"Max virtual {cap_percent}%"
        x, anchor = _fit_anchor(cap_x, cap_label, 0, width)
        parts.append(_text(x, bar_y + bar_h + 16, cap_label, fill=INK, anchor=anchor, size=11))
    title = "In-person and virtual cases"
    return _svg(chart_id, width, height, title, summary, parts)


def sparkline(values: list[int], *, width=120, height=28) -> SafeString:
    """Weekly activity as a small line, oldest week first; all zeros give a flat baseline."""
    values = list(values)
    chart_id = _chart_id("sparkline", values, width, height)
    pad = 3
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    peak = max(values, default=0)
    baseline = pad + inner_h

    def y_of(value: int) -> float:
        return baseline - inner_h * value / peak if peak > 0 else baseline

    if len(values) > 1:
        coords = [(pad + inner_w * i / (len(values) - 1), y_of(v)) for i, v in enumerate(values)]
    else:
        level = y_of(values[0]) if values else baseline
        coords = [(pad, level), (pad + inner_w, level)]
    parts = [_line(pad, baseline, pad + inner_w, baseline, stroke=GRID)]
    if peak > 0:
        line = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
        area = f"{_n(coords[0][0])},{_n(baseline)} {line} {_n(coords[-1][0])},{_n(baseline)}"
        parts.append(f'<polygon points="{area}" fill="{TEAL_LIGHT}" stroke="none"/>')
        parts.append(
            f'<polyline class="chart-series" points="{line}" fill="none" stroke="{TEAL}" stroke-width="1.5"'
            ' stroke-linejoin="round" stroke-linecap="round"/>'
        )
        x, y = coords[-1]
        parts.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="2.5" fill="{TEAL}"/>')
    else:
        parts.append(_line(pad, baseline, pad + inner_w, baseline, stroke=MUTED, width=1.5, cls="chart-flat"))

    weeks = len(values)
    if weeks:
        summary = f"Per week over the last {weeks} weeks, oldest first: {', '.join(str(v) for v in values)}."
    else:
        summary = "No activity recorded."
    return _svg(chart_id, width, height, "Weekly activity", summary, parts, max_width=width)


# Helpers ---------------------------------------------------------------------------------------------------------


def _svg(chart_id: str, width, height, title: str, summary: str, parts: list[str], *, max_width=None) -> SafeString:
    # width/height attributes give the size where CSS is missing; the classes (static/css/app.css, pdf/dossier.css)
    # scale the chart with its container, a capped one never beyond its own width. Classes, not a style attribute:
    # the pages' Content-Security-Policy allows no inline style.
    classes = "tp-chart tp-chart-capped" if max_width else "tp-chart"
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' class="{classes}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-family="{FONT}" font-size="{FONT_SIZE}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>' + "".join(parts) + "</svg>"
    )
    # Safe: every text in `parts`, the title and the summary went through escape(); the rest is our own markup.
    return mark_safe(markup)


def _chart_id(kind: str, *inputs) -> str:
    return f"chart-{kind}-" + hashlib.sha256(repr(inputs).encode()).hexdigest()[:10]


def _n(value: float) -> str:
    """Coordinates with one decimal, without a trailing .0: short, stable output."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _line(x1, y1, x2, y2, *, stroke: str, width: float = 1, dash: str | None = None, cls: str | None = None) -> str:
    extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "")
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"'
        f' stroke-width="{_n(width)}"{extra}/>'
    )


def _text(x, y, content: str, *, fill: str, anchor: str = "start", weight: str | None = None, size=None) -> str:
    attrs = f'x="{_n(x)}" y="{_n(y)}" fill="{fill}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    if size:
        attrs += f' font-size="{size}"'
    return f"<text {attrs}>{escape(content)}</text>"


def _text_width(content: str, size: float = FONT_SIZE) -> float:
    return len(content) * size * CHAR_WIDTH


def _box(x: float, y: float, content: str, anchor: str) -> tuple[float, float, float, float]:
    """The approximate box (x0, y0, x1, y1) of a text whose baseline starts at y."""
    w = _text_width(content)
    x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return (x0, y - FONT_SIZE, x0 + w, y + 3)


def _fit_anchor(x: float, content: str, lo: float, hi: float) -> tuple[float, str]:
    """Centre a label on x unless that would cut it off at an edge of the chart."""
    half = _text_width(content) / 2
    if x - half < lo:
        return lo, "start"
    if x + half > hi:
        return hi, "end"
    return x, "middle"


def _place(candidates: list[tuple[float, float, str]], content: str, placed: list, lo: float, hi: float):
    """The first (x, y, anchor) among the candidates where the label stays inside [lo, hi] and overlaps none placed."""
    for x, y, anchor in candidates:
        box = _box(x, y, content, anchor)
        inside = lo <= box[0] and box[2] <= hi
        if inside and not any(box[0] < p[2] and p[0] < box[2] and box[1] < p[3] and p[1] < box[3] for p in placed):
            return x, y, anchor
    return candidates[0]


def _cumulative_points(points: Iterable[tuple[date, int]]) -> list[tuple[date, int]]:
    """Sorted by date, one point per date (the last one given wins)."""
    by_date = {}
    for day, value in points:
        by_date[day] = value
    return sorted(by_date.items())


def _step_path(points, lo: date, x_of, y_of) -> str:
    """Holds each count until the next date, then steps; starts at 0 on the first date unless data precede `lo`."""
    first_date, first_value = points[0]
    if first_date <= lo:
        commands = [f"M{_n(x_of(lo))},{_n(y_of(first_value))}"]
    else:
        commands = [f"M{_n(x_of(first_date))},{_n(y_of(0))}", f"V{_n(y_of(first_value))}"]
    previous = first_value
    for day, value in points[1:]:
        commands.append(f"H{_n(x_of(day))}")
        if value != previous:
            commands.append(f"V{_n(y_of(value))}")
        previous = value
    return " ".join(commands)


def _nice_ticks(maximum: float) -> list[int]:
    """4 to 6 evenly spaced integer ticks from 0, the step 1, 2 or 5 times a power of ten."""
    maximum = max(maximum, 4)
    magnitude = 10 ** max(math.floor(math.log10(maximum / 5)), 0)
    for factor in (1, 2, 5, 10, 20, 50):
        step = factor * magnitude
        count = math.ceil(maximum / step)
        if count <= 5:
            return [step * i for i in range(max(count, 3) + 1)]
    raise AssertionError("unreachable: factor 50 always fits")


def _month_ticks(lo: date, hi: date, *, max_labels: int) -> list[date]:
    """First days of months inside [lo, hi], every 1, 2, 3, 6 or 12 months so at most max_labels remain."""
    months = []
    year, month = lo.year, lo.month
    if lo.day != 1:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while date(year, month, 1) <= hi:
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for every in (1, 2, 3, 6, 12):
        # Keep the months that fall on the step (January stays when the step divides 12), so years line up.
        kept = [d for d in months if (d.month - 1) % every == 0]
        if len(kept) <= max_labels:
            return kept
    januaries = [d for d in months if d.month == 1]
    return januaries[:: math.ceil(len(januaries) / max_labels)]


def _percents(virtual: int, total: int, cap_percent: int) -> tuple[str, str]:
    """Virtual and in-person shares summing to 100: whole percentages, with one decimal when rounding would show an
    over-cap share as at the cap (30.4% is over a 30% cap; "30%" would not say so)."""
    exact = virtual * 100 / total
    if round(exact) <= cap_percent < exact:
        return f"{exact:.1f}", f"{100 - float(f'{exact:.1f}'):.1f}"
    return str(round(exact)), str(100 - round(exact))


def _format_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
