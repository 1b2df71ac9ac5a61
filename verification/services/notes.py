"""SCMR reviewers' notes on a dossier: appended, never edited or deleted; de-identified; for reviewers only."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from trainingportal.core.audit import log_action
from trainingportal.core.phi import check_phi_fields

from ..models import ReviewNote, VerificationRequest
from ..selectors import is_conflicted


@transaction.atomic
def review_note_add(*, actor, vr: VerificationRequest, text: str) -> ReviewNote:
    if not actor.is_reviewer or is_conflicted(actor, vr.enrollment.program):
        raise PermissionDenied("Only an SCMR reviewer without a conflict of interest writes notes on a dossier.")
    if vr.status not in VerificationRequest.REVIEWABLE:
        raise PermissionDenied("Notes are written on dossiers submitted to SCMR.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write the note."})
    check_phi_fields({"text": text}, {"text": "Note"})
    note = ReviewNote(request=vr, author=actor, text=text)
    note.full_clean()
    note.save()
    # The audit event says a note was added, not what it says: notes stay in the one table only reviewers read.
    log_action(actor=actor, action="verification_request.note", obj=vr, after={"note": note.pk})
    return note
