"""What a final determination rests on, and whether it still does. The caller has checked access to the enrollment.

A determination is signed over the report and over a fingerprint of the evidence: the signed case-log entries (each
one's last change), the competency sign-offs, prior experience, leave and the enrollment's own terms. Any later change
to them changes the fingerprint, and the determination is shown as stale everywhere until the director signs again.
"""

import hashlib
import json

from django.db.models import Count, Max, Sum

from assessments.models import FinalDetermination, PriorExperience, SignOff, SignOffAmendment
from cases.models import CaseLogAmendment, CaseLogEntry
from trainees.models import Enrollment, LeavePeriod


def _aggregate(queryset, *fields) -> list:
    annotations = {"n": Count("pk"), "ids": Sum("pk")}
    for field in fields:
        annotations[f"max_{field}"] = Max(field)
    row = queryset.order_by().aggregate(**annotations)
    return [str(row[key]) for key in sorted(row)]


def evidence_fingerprint(enrollment: Enrollment) -> str:
    """SHA-256 of what the determination rests on. Seven small aggregate queries, whatever the size of the log."""
    parts = {
        "entries": _aggregate(
            CaseLogEntry.objects.filter(enrollment=enrollment, status=CaseLogEntry.Status.SIGNED),
            "updated_at",
            "signed_at",
        ),
        "amendments": _aggregate(CaseLogAmendment.objects.filter(entry__enrollment=enrollment), "created_at"),
        "sign_offs": _aggregate(SignOff.objects.filter(enrollment=enrollment), "signed_on"),
        "prior_experience": _aggregate(PriorExperience.objects.filter(enrollment=enrollment), "recorded_at"),
        "leave": _aggregate(LeavePeriod.objects.filter(enrollment=enrollment), "start_date", "end_date"),
        "terms": [
            str(value)
            for value in Enrollment.objects.filter(pk=enrollment.pk).values_list(
                "ruleset", "start_date", "end_date", "fte_fraction", "carried_forward_cases",
                "carried_forward_months", "max_virtual_share", "status",
            ).first() or ()
        ],
    }  # fmt: skip
    # An amended sign-off keeps its row: its amendments are part of the evidence. Added only when there are any, so
    # that determinations signed before sign-offs could be amended keep their fingerprint.
    amended = SignOffAmendment.objects.filter(sign_off__enrollment=enrollment)
    if amended.exists():
        parts["sign_off_amendments"] = _aggregate(amended, "created_at")
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def current_determination(enrollment: Enrollment) -> FinalDetermination | None:
    return (
        FinalDetermination.objects.filter(enrollment=enrollment)
        .select_related("director", "in_person_entry__case")
        .order_by("-signed_at", "-id")
        .first()
    )


def determination_state(enrollment: Enrollment) -> dict:
    """{"determination": the latest or None, "stale": whether the evidence changed since it was signed}."""
    determination = current_determination(enrollment)
    stale = determination is not None and determination.evidence_fingerprint != evidence_fingerprint(enrollment)
    return {"determination": determination, "stale": stale}
