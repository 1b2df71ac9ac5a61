"""Shared by the case-log test modules: entries with a full structured read, audit events, row counts."""

from cases.models import Case, CaseLogAmendment, CaseLogEntry, GroupReview
from trainingportal.core.models import AuditEvent

from ..factories import EntryFactory

TRAINEE_IMPRESSION = "Concentric LVH with apical sparing, suggestive of amyloid."
TRAINEE_FINDINGS = "Diffuse subendocardial enhancement, nulling difficulty."
TRAINEE_DIAGNOSIS = "Cardiac amyloidosis"


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
