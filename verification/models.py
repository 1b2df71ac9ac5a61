"""SCMR verification: program reviews and their events, feedback to SCMR, and trainee verification dossiers."""

import secrets

from django.conf import settings
from django.db import models

from programs.models import Program


class ProgramReview(models.Model):
    """SCMR review of a program's remote training plan (SPEC S11). One row per submission round."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="reviews")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    plan_snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Program.VerificationStatus.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comments = models.JSONField(default=dict, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "programs_programreview"
        ordering = ["-submitted_at"]


class ProgramReviewEvent(models.Model):
    """One step of a program's SCMR verification: who, when, what and why (with comments per checklist line)."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        TAKEN = "taken", "Review started"
        COMMENTED = "commented", "Commented"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        VERIFIED = "verified", "Verified"
        DECLINED = "declined", "Declined"

    review = models.ForeignKey(ProgramReview, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    comment = models.TextField(blank=True)
    line_comments = models.JSONField(default=dict, blank=True, help_text="Checklist line (S1–S15) -> comment")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "programs_programreviewevent"
        ordering = ["created_at", "id"]


class FeedbackResponse(models.Model):
    """Feedback from trainees and programs to SCMR about the virtual program (SPEC S12)."""

    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="feedback")
    period = models.CharField(max_length=20)
    answers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "programs_feedbackresponse"


def _verification_code() -> str:
    # 12 characters from an unambiguous alphabet, printed on the cover and encoded in the QR link.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class VerificationRequest(models.Model):
    """A request for a verification dossier and its SCMR review (SPEC section 5)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        READY = "ready", "Ready"
        SUBMITTED = "submitted", "Submitted to SCMR"
        UNDER_REVIEW = "under_review", "Under review"
        VERIFIED = "verified", "Verified"
        RETURNED = "returned", "Returned"
        REVOKED = "revoked", "Verification revoked"
        FAILED = "failed", "Failed"

    IN_PROGRESS = {Status.QUEUED, Status.GENERATING}
    REVIEWABLE = {Status.SUBMITTED, Status.UNDER_REVIEW, Status.VERIFIED, Status.RETURNED, Status.REVOKED}
    HAS_DOSSIER = {Status.READY} | REVIEWABLE

    enrollment = models.ForeignKey(
        "trainees.Enrollment", on_delete=models.PROTECT, related_name="verification_requests"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.QUEUED, db_index=True)
    code = models.CharField(max_length=12, unique=True, default=_verification_code, editable=False)
    dossier = models.FileField(upload_to="dossiers/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    render_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The claim's lease: the rendering worker refreshes it; a claim not refreshed for DOSSIER_LEASE_SECONDS is dead
    # and a redelivered message (or the sweeper) takes the work over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Outbox: set once the job's message reached the broker; a queued row without it is re-sent by the sweeper.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reasons = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # SCMR may withdraw a verification (e.g. evidence later found wrong); the public check page says so.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_reason = models.TextField(blank=True)

    class Meta:
        db_table = "assessments_verificationrequest"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(
                    status__in=["ready", "submitted", "under_review", "verified", "returned", "revoked"]
                )
                | ~models.Q(sha256=""),
                name="vr_dossier_has_hash",
            )
        ]

    def __str__(self) -> str:
        return f"Dossier {self.code} ({self.get_status_display()})"

    @property
    def has_dossier(self) -> bool:
        return self.status in self.HAS_DOSSIER

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS


class ReviewNote(models.Model):
    """An SCMR reviewer's working note on a dossier. Append-only (no edit or delete anywhere), de-identified (PHI
    guard), and for SCMR reviewers only: never shown to the program's director, mentors or the trainee, never in an
    e-mail, never in the dossier."""

    request = models.ForeignKey(VerificationRequest, on_delete=models.CASCADE, related_name="review_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=~models.Q(text=""), name="review_note_not_empty")]

    def __str__(self) -> str:
        return f"Note on {self.request_id} by {self.author_id}"
