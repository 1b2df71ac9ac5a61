"""Server-rendered SVG charts: valid, accessible, deterministic markup that WeasyPrint draws as the browser does."""

import logging
import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from django.utils.safestring import SafeString
from weasyprint import HTML

from trainingportal.core.charts import DANGER, _nice_ticks, cumulative_chart, share_bar, sparkline

SVG = "{http://www.w3.org/2000/svg}"
START, END = date(2025, 9, 1), date(2026, 8, 31)


def weekly_points(weeks=20, per_week=4, first=date(2025, 9, 8)):
    return [(first + timedelta(weeks=i), per_week * (i + 1)) for i in range(weeks)]


def chart(points=None, **kwargs):
    kwargs = {"target": 150, "start": START, "end": END, "title": "Signed cases", **kwargs}
    return cumulative_chart(weekly_points() if points is None else points, **kwargs)


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def by_class(root, name) -> list[ET.Element]:
    return [el for el in root.iter() if name in el.get("class", "").split()]


def texts(root) -> list[str]:
    return [el.text for el in root.iter(f"{SVG}text")]


def path_xs(d: str) -> list[float]:
    """The x coordinates of a path made of M x,y, H x and V y commands."""
    return [float(x) for x in re.findall(r"[MH](-?[\d.]+)", d)]


EXAMPLES = {
    "cumulative": lambda: chart(forecast=date(2026, 10, 14)),
    "cumulative-empty": lambda: chart([]),
    "share": lambda: share_bar(virtual=42, in_person=108, cap_percent=30),
    "share-empty": lambda: share_bar(virtual=0, in_person=0, cap_percent=30),
    "sparkline": lambda: sparkline([0, 2, 3, 1, 5, 4, 6, 2, 0, 3, 4, 5]),
    "sparkline-zero": lambda: sparkline([0] * 12),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_chart_is_an_accessible_svg_image(name):
    svg = EXAMPLES[name]()
    root = parse(svg)

    assert isinstance(svg, SafeString)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox").startswith("0 0 ")
    assert "tp-chart" in root.get("class").split()
    assert root.get("style") is None  # the pages' Content-Security-Policy allows no inline style
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text and desc.text
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]


@pytest.mark.parametrize("name", EXAMPLES)
def test_chart_uses_no_css_that_weasyprint_lacks(name):
    svg = str(EXAMPLES[name]())

    assert "var(" not in svg
    assert "foreignObject" not in svg
    assert "<style" not in svg
    assert "dominant-baseline" not in svg


def test_title_is_escaped():
    svg = chart(title='Cases <script>alert("x")</script> & more')
    root = parse(svg)

    assert "<script>" not in svg
    assert root.find(f"{SVG}title").text == 'Cases <script>alert("x")</script> & more'


def test_unit_is_escaped():
    root = parse(chart(unit="<b>studies</b>"))

    assert "<b>studies</b>" in texts(root)
    assert "<b>studies</b>" in root.find(f"{SVG}desc").text


def test_description_summarises_progress_and_forecast():
    desc = parse(chart(forecast=date(2026, 10, 14))).find(f"{SVG}desc").text

    assert desc == "80 of 150 cases as of 19 Jan 2026; projected to reach the target on 14 Oct 2026."


def test_description_says_when_the_target_is_reached():
    desc = parse(chart([(date(2025, 10, 1), 150)])).find(f"{SVG}desc").text

    assert desc == "150 of 150 cases as of 1 Oct 2025; the target is reached."


def test_target_line_is_labelled_and_above_the_last_point_when_short_of_it():
    root = parse(chart())
    (target,) = by_class(root, "chart-target")
    (last,) = by_class(root, "chart-last")

    assert "Target 150" in texts(root)
    assert target.get("y1") == target.get("y2")
    assert float(target.get("y1")) < float(last.get("cy"))  # SVG y grows downwards


def test_target_line_is_below_the_last_point_once_exceeded():
    root = parse(chart([(date(2025, 10, 1), 60), (date(2026, 1, 5), 170)]))
    (target,) = by_class(root, "chart-target")
    (last,) = by_class(root, "chart-last")

    assert float(target.get("y1")) > float(last.get("cy"))


def test_series_x_increases_with_the_dates():
    points = [(date(2025, 9, 10), 3), (date(2025, 10, 2), 9), (date(2025, 12, 20), 20), (date(2026, 3, 1), 44)]
    (series,) = by_class(parse(chart(points)), "chart-series")

    xs = path_xs(series.get("d"))
    assert len(xs) == len(points)
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_series_is_drawn_in_date_order_whatever_the_input_order():
    points = weekly_points(8)

    assert chart(list(reversed(points))) == chart(points)


def test_month_ticks_are_short_names_with_the_year_under_the_first_and_january():
    labels = texts(parse(chart()))

    assert labels[labels.index("Sep") : labels.index("Sep") + 2] == ["Sep", "2025"]
    assert labels[labels.index("Jan") : labels.index("Jan") + 2] == ["Jan", "2026"]
    assert labels.count("2025") == 1 and labels.count("2026") == 1


def test_a_long_range_thins_month_ticks():
    labels = texts(parse(chart(start=date(2022, 1, 1), end=date(2025, 12, 31))))
    months = [label for label in labels if label in {"Jan", "Feb", "Mar", "Apr", "Jul", "Oct"}]

    assert 2 <= len(months) <= 10


@pytest.mark.parametrize("maximum", [4.4, 11, 55, 99, 165, 180.4, 330, 1000, 1650, 12345])
def test_y_axis_has_four_to_six_nice_ticks_covering_the_maximum(maximum):
    ticks = _nice_ticks(maximum)

    assert 4 <= len(ticks) <= 6
    assert ticks[0] == 0 and ticks[-1] >= maximum
    step = ticks[1]
    assert all(b - a == step for a, b in zip(ticks, ticks[1:], strict=False))
    assert str(step).strip("0") in {"1", "2", "5"}


def test_projection_is_drawn_only_with_a_forecast():
    with_forecast = parse(chart(forecast=date(2026, 10, 14)))
    without = parse(chart())

    (projection,) = by_class(with_forecast, "chart-projection")
    (target,) = by_class(with_forecast, "chart-target")
    assert projection.get("y2") == target.get("y1")  # it ends on the target line
    assert "Forecast 14 Oct 2026" in texts(with_forecast)
    assert by_class(without, "chart-projection") == []
    assert not any(text.startswith("Forecast") for text in texts(without))


def test_target_label_moves_clear_of_a_forecast_label_near_the_start():
    root = parse(chart([(date(2025, 9, 20), 30)], target=40, forecast=date(2025, 10, 10)))
    label = next(el for el in root.iter(f"{SVG}text") if el.text == "Target 40")

    assert label.get("text-anchor") == "end"  # at the right end of the line, the forecast label holds the left


def test_no_projection_once_the_target_is_reached():
    root = parse(chart([(date(2025, 10, 1), 160)], forecast=date(2026, 1, 1)))

    assert by_class(root, "chart-projection") == []


def test_empty_cumulative_chart_keeps_the_axes_and_says_so():
    root = parse(chart([]))

    assert "No signed cases yet" in texts(root)
    assert "Target 150" in texts(root)
    assert by_class(root, "chart-series") == []
    assert "0" in texts(root) and "Sep" in texts(root)


def test_share_bar_over_the_cap_shows_the_virtual_part_as_a_warning():
    svg = share_bar(virtual=61, in_person=89, cap_percent=30)
    (virtual,) = by_class(parse(svg), "chart-virtual")

    assert virtual.get("fill") == DANGER
    assert "Virtual 41% (61) over the cap" in texts(parse(svg))
    assert "over the maximum" in parse(svg).find(f"{SVG}desc").text


def test_share_bar_under_the_cap_uses_no_warning_colour():
    svg = share_bar(virtual=42, in_person=108, cap_percent=30)

    assert DANGER not in svg
    assert "In person 72% (108)" in texts(parse(svg))
    assert "Virtual 28% (42)" in texts(parse(svg))


def test_share_bar_exactly_at_the_cap_is_not_over():
    assert DANGER not in share_bar(virtual=30, in_person=70, cap_percent=30)


def test_share_bar_shows_a_decimal_when_rounding_would_hide_the_excess():
    labels = texts(parse(share_bar(virtual=304, in_person=696, cap_percent=30)))

    assert "Virtual 30.4% (304) over the cap" in labels
    assert "In person 69.6% (696)" in labels


def test_share_bar_cap_marker_sits_at_the_maximum_virtual_share():
    root = parse(share_bar(virtual=42, in_person=108, cap_percent=30, width=104))
    (cap,) = by_class(root, "chart-cap")

    assert float(cap.get("x1")) == pytest.approx(2 + 100 * 0.7)  # virtual fills from the right
    assert "Max virtual 30%" in texts(root)


def test_share_bar_with_no_cases_says_so():
    root = parse(share_bar(virtual=0, in_person=0, cap_percent=30))

    assert "No cases yet" in texts(root)
    assert by_class(root, "chart-virtual") == []


def test_sparkline_draws_the_weekly_values():
    (series,) = by_class(parse(sparkline([1, 0, 3, 6], width=120, height=28)), "chart-series")
    coords = [tuple(map(float, pair.split(","))) for pair in series.get("points").split()]

    assert [x for x, _ in coords] == sorted(x for x, _ in coords)
    assert min(coords, key=lambda c: c[1]) == coords[-1]  # the peak is highest (smallest y)


@pytest.mark.parametrize("values", [[0] * 12, []])
def test_sparkline_without_activity_is_a_flat_baseline(values):
    root = parse(sparkline(values))

    assert by_class(root, "chart-series") == []
    (flat,) = by_class(root, "chart-flat")
    assert flat.get("y1") == flat.get("y2")


def test_output_is_deterministic():
    for name, make in EXAMPLES.items():
        assert make() == make(), name


def test_ids_differ_between_charts_so_a_page_can_hold_several():
    first = parse(chart(title="Signed cases"))
    second = parse(chart(title="Virtual cases"))

    assert first.find(f"{SVG}title").get("id") != second.find(f"{SVG}title").get("id")


def test_weasyprint_renders_the_charts_without_errors(tmp_path, caplog):
    html = (
        "<html><body><h1>Progress</h1>"
        f"<div style='width: 16cm'>{chart(forecast=date(2026, 10, 14))}</div>"
        f"<div style='width: 16cm'>{share_bar(virtual=61, in_person=89, cap_percent=30)}</div>"
        f"<p>{sparkline([0, 2, 3, 1, 5])}</p>"
        "</body></html>"
    )
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = HTML(string=html).write_pdf()
    path = tmp_path / "charts.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["/usr/bin/pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout

    assert pdf.startswith(b"%PDF-")
    assert [
        r.getMessage() for r in caplog.records if r.name.startswith("weasyprint") and r.levelno >= logging.ERROR
    ] == []
    assert "Target 150" in text
    assert "Forecast 14 Oct 2026" in text
    assert "Max virtual 30%" in text
