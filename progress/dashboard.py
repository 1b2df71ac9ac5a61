"""The director dashboard: every trainee of a program in one sortable, filterable table, and its CSV export."""

import csv
from dataclasses import dataclass
from datetime import date

from django.http import HttpResponse

from trainingportal.engine import Report

FLAG_LABELS = {
    "behind_pace": "Behind pace",
    "over_virtual_cap": "Over the virtual cap",
    "reviews_waiting": "Reviews waiting > 7 days",
    "missing_in_person": "Missing in-person items",
    "group_cap": "Over the group cap",
}
SORT_KEYS = {
    "name": lambda r: (r.enrollment.trainee.full_name or r.enrollment.trainee.email).lower(),
    "progress": lambda r: (r.report.met_count, r.overall_percent),
    "pace": lambda r: r.report.pace_per_week,
    "forecast": lambda r: (r.report.forecast is None, r.report.forecast or date.max),
    "pending": lambda r: (r.report.reviews_waiting_over_7_days, r.report.pending_reviews),
    "flags": lambda r: len(r.report.flags),
    "start": lambda r: r.enrollment.start_date,
}


@dataclass
class Row:
    enrollment: object
    report: Report

    @property
    def overall_percent(self) -> int:
        counted = [r for r in self.report.requirements if not r.at_most]
        return int(sum(r.percent for r in counted) / len(counted)) if counted else 100

    def cell(self, key: str):
        return self.report.requirement(key)


def columns_for(rows: list[Row]) -> list[tuple[str, str]]:
    """The requirement columns: the keys of the first trainee's ruleset, in order (a program shares one)."""
    seen: dict[str, str] = {}
    for row in rows:
        for r in row.report.requirements:
            if not r.overlay:
                seen.setdefault(r.key, r.short or r.label)
    return list(seen.items())


def filter_and_sort(rows: list[Row], *, flag: str | None, sort: str) -> list[Row]:
    if flag in FLAG_LABELS:
        rows = [r for r in rows if flag in r.report.flag_codes]
    descending = sort.startswith("-")
    key = SORT_KEYS.get(sort.lstrip("-"), SORT_KEYS["name"])
    return sorted(rows, key=key, reverse=descending)


def _cell(value):
    """Keep spreadsheets from running a cell as a formula (CSV injection): names are typed by users."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(program, rows: list[Row], columns: list[tuple[str, str]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="program-{program.pk}-progress.csv"'
    response["Cache-Control"] = "private, no-store"  # every trainee's progress: no shared or on-disk cache
    writer = _SafeWriter(csv.writer(response))
    writer.writerow(
        ["trainee", "email", "start_date", "status", "ruleset"]
        + [f"{key}_achieved" for key, _ in columns]
        + [f"{key}_required" for key, _ in columns]
        + ["requirements_met", "pace_per_week", "forecast", "pending_reviews", "reviews_waiting_over_7_days",
           "virtual_share", "flags"]
    )  # fmt: skip
    for row in rows:
        e, report = row.enrollment, row.report
        cells = [row.cell(key) for key, _ in columns]
        writer.writerow(
            [e.trainee.display_name, e.trainee.email, e.start_date.isoformat(), e.status, report.ruleset]
            + [c.achieved if c else "" for c in cells]
            + [c.required if c else "" for c in cells]
            + [f"{report.met_count}/{len(report.requirements)}", report.pace_per_week,
               report.forecast.isoformat() if report.forecast else "", report.pending_reviews,
               report.reviews_waiting_over_7_days, report.virtual_share if report.virtual_share is not None else "",
               ";".join(sorted(report.flag_codes))]
        )  # fmt: skip
    return response


class _SafeWriter:
    def __init__(self, writer):
        self.writer = writer

    def writerow(self, row):
        self.writer.writerow([_cell(v) for v in row])
