"""Export of a trainee's own case log, across all their enrollments and statuses: their portable record. The CSV
uses the import's column names and values where they mean the same (choice codes, lists joined by ;, people by
e-mail), so an export can be imported elsewhere."""

import csv
import json

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone

from trainees.selectors import has_been_enrolled

from .models import CaseLogEntry

COLUMNS = [
    "date",
    "reference",
    "source",
    "complete_study",
    "indication",
    "categories",
    "diagnosis",
    "diagnosis_taxonomy",
    "field_strength",
    "vendor",
    "contrast_agent",
    "stress_agent",
    "stress_supervisor",
    "cardiac_device",
    "congenital",
    "paediatric",
    "sedation",
    "sequences",
    "roles",
    "delivery",
    "supervising_mentor",
    "findings",
    "impression",
    "key_measurements",
    "lvef",
    "lv_edvi",
    "lge_pattern",
    "final_diagnosis",
    "status",
    "submitted_at",
    "signed_at",
    "signed_by",
    "mentor_feedback",
    "program",
]


def has_case_log(user) -> bool:
    """Only trainees have a case log to export: anyone ever enrolled, whatever the enrollment's status now."""
    return has_been_enrolled(user)


def entries_for_export(user) -> QuerySet[CaseLogEntry]:
    """The user's own entries, oldest first. Two queries whatever the size of the log (entries, topics)."""
    return (
        CaseLogEntry.objects.filter(enrollment__trainee=user)
        .select_related("case__stress_supervisor", "enrollment__program", "supervising_mentor", "signed_by")
        .prefetch_related("case__categories")
        .order_by("performed_on", "id")
    )


def _moment(value) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def entry_record(entry: CaseLogEntry) -> dict:
    """One entry as JSON-ready values: lists stay lists, empty numbers are None."""
    case = entry.case
    return {
        "date": entry.performed_on.isoformat(),
        "reference": case.reference,
        "source": case.source,
        "complete_study": case.complete_study,
        "indication": case.indication,
        "categories": [c.slug for c in case.categories.all()],
        # The clinical fields as the import reads them: codes, the stress supervisor by e-mail. The legacy free-text
        # technique tags are not exported: the sequences replaced them (cases/migrations/0009 read them).
        "diagnosis": case.diagnosis,
        "diagnosis_taxonomy": case.diagnosis_taxonomy,
        "field_strength": case.field_strength,
        "vendor": case.vendor,
        "contrast_agent": case.contrast_agent,
        "stress_agent": case.stress_agent,
        "stress_supervisor": case.stress_supervisor.email if case.stress_supervisor_id else None,
        "cardiac_device": case.cardiac_device,
        "congenital": case.congenital,
        "paediatric": case.paediatric,
        "sedation": case.sedation,
        "sequences": list(case.sequences or []),
        "roles": entry.roles,
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor.email,
        "findings": entry.findings,
        "impression": entry.impression,
        "key_measurements": entry.key_measurements,
        "lvef": entry.lvef,
        "lv_edvi": entry.lv_edvi,
        "lge_pattern": entry.lge_pattern,
        "final_diagnosis": entry.final_diagnosis,
        "status": entry.status,
        "submitted_at": _moment(entry.submitted_at),
        "signed_at": _moment(entry.signed_at),
        "signed_by": entry.signed_by.email if entry.signed_by_id else None,
        "mentor_feedback": entry.mentor_feedback,
        "program": entry.enrollment.program.name,
    }


def _filename(extension: str) -> str:
    return f"case-log-{timezone.localdate().isoformat()}.{extension}"


def safe_cell(value) -> str:
    """A cell as text that a spreadsheet will not run as a formula (CSV injection): findings and feedback are typed
    by people, and a cell starting with = + - @ tab or CR gets an apostrophe in front."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    value = str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(user) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    response["Cache-Control"] = "private, no-store"  # a trainee's log: no shared or on-disk cache keeps a copy
    # A byte-order mark, so that Excel reads the file as UTF-8 (ml/m², names with accents); the import accepts it.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    for entry in entries_for_export(user):
        record = entry_record(entry)
        writer.writerow([safe_cell(record[column]) for column in COLUMNS])
    return response


def json_response(user) -> HttpResponse:
    document = {
        "format": "trainingportal.case-log",
        "version": 1,
        "exported_at": _moment(timezone.now()),
        "trainee": {"name": user.full_name, "email": user.email},
        "entries": [entry_record(entry) for entry in entries_for_export(user)],
    }
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("json")}"'
    response["Cache-Control"] = "private, no-store"
    return response
