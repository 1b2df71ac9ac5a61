"""Shared by the case-log test modules: entries with a full structured read, complete form and API payloads, audit
events, row counts."""

import datetime

from django.test import Client
from django.utils import timezone

from cases.models import Case, CaseLogAmendment, CaseLogEntry, GroupReview
from curriculum.models import Category
from trainingportal.core.models import AuditEvent

from ..factories import EntryFactory

# What the trainee wrote, distinctive enough that its absence from a page means something.
TRAINEE_IMPRESSION = "Concentric LVH with apical sparing, suggestive of amyloid."
TRAINEE_FINDINGS = "Diffuse subendocardial enhancement, nulling difficulty."
TRAINEE_DIAGNOSIS = "Cardiac amyloidosis"


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _events(entry, action: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type="cases.caselogentry", object_id=str(entry.pk), action=action).order_by(
            "id"
        )
    )


def _row_counts() -> tuple[int, ...]:
    return (
        Case.objects.count(),
        CaseLogEntry.objects.count(),
        GroupReview.objects.count(),
        CaseLogAmendment.objects.count(),
        AuditEvent.objects.count(),
    )


def _with_read(enrollment, mentor, **overrides) -> CaseLogEntry:
    """A submitted entry with the trainee's full structured read."""
    fields = {
        "enrollment": enrollment,
        "supervising_mentor": mentor,
        "submitted": True,
        "impression": TRAINEE_IMPRESSION,
        "findings": TRAINEE_FINDINGS,
        "lvef": 48,
        "lv_edvi": 70,
        "lge_pattern": CaseLogEntry.LGEPattern.DIFFUSE,
        "final_diagnosis": TRAINEE_DIAGNOSIS,
        **overrides,
    }
    return EntryFactory(**fields)


def _entry_payload(mentor, **overrides) -> dict:
    """A complete POST to /api/v1/case-logs/."""
    payload = {
        "reference": "API-0001",
        "source": "registry",
        "complete_study": True,
        "indication": "Breathlessness, reduced LVEF on echo",
        "categories": ["cardiomyopathy", "fibrosis-edema"],
        "performed_on": (timezone.localdate() - datetime.timedelta(days=2)).isoformat(),
        "roles": ["interpreted", "assisted_console"],
        "delivery": "virtual_live_two_way",
        "supervising_mentor": mentor.pk,
        "impression": "Non-ischaemic dilated cardiomyopathy with mid-wall septal LGE.",
    }
    return {**payload, **overrides}


def _entry_form_data(mentor, **overrides) -> dict:
    """A complete POST of the case-log entry form (create)."""
    data = {
        "reference": "WEB-0001",
        "performed_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "source": Case.Source.CENTER_ARCHIVE,
        "complete_study": "on",
        "indication": "Breathlessness",
        "categories": [Category.objects.get(slug="cardiomyopathy").pk],
        "roles": ["interpreted"],
        "delivery": CaseLogEntry.Delivery.IN_PERSON,
        "supervising_mentor": mentor.pk,
        "session": "",
        "sequences": ["cine", "lge"],
        "field_strength": "1.5T",
        "lvef": "55",
        "lv_edvi": "80",
        "lge_pattern": "none",
        "final_diagnosis": "Normal study",
        "impression": "Normal biventricular size and function.",
        "findings": "",
        "key_measurements": "",
        "action": "submit",
    }
    return {**data, **overrides}


def _amend_form_data(entry, **overrides) -> dict:
    """A complete POST of the amendment form: the entry as it is (the case fields are locked), plus a reason. The edit
    form of a draft takes the same fields."""
    data = {
        "performed_on": entry.performed_on.isoformat(),
        "roles": [f for f in CaseLogEntry.ROLE_FIELDS if getattr(entry, f)],
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor_id,
        "session": entry.session_id or "",
        "lvef": "" if entry.lvef is None else str(entry.lvef),
        "lv_edvi": "" if entry.lv_edvi is None else str(entry.lv_edvi),
        "lge_pattern": entry.lge_pattern,
        "final_diagnosis": entry.final_diagnosis,
        "impression": entry.impression,
        "findings": entry.findings,
        "key_measurements": entry.key_measurements,
        "reason": "LVEF re-measured on the short-axis stack.",
    }
    return {**data, **overrides}
