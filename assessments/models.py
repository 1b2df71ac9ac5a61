import secrets

from django.conf import settings
from django.db import models


class Competency(models.Model):
    """A competency in a versioned framework. `in_person_required` ones cannot be signed from virtual evidence (S8)."""

    framework = models.CharField(max_length=60, default="scmr-2018")
    code = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    in_person_required = models.BooleanField(default=False)

    class Meta:
        ordering = ["framework", "code"]
        constraints = [models.UniqueConstraint(fields=["framework", "code"], name="competency_unique_code")]
        verbose_name_plural = "competencies"

    def __str__(self) -> str:
        return self.title


class SignOff(models.Model):
    class Delivery(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIRTUAL = "virtual", "Virtual"

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="sign_offs")
    competency = models.ForeignKey(Competency, on_delete=models.PROTECT, related_name="sign_offs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_on = models.DateField()
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    evidence_entries = models.ManyToManyField("cases.CaseLogEntry", blank=True, related_name="+")
    evidence_sessions = models.ManyToManyField("programs.TrainingSession", blank=True, related_name="+")
    entrustment_level = models.PositiveSmallIntegerField(default=4)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "competency"], name="signoff_unique")]


class FinalDetermination(models.Model):
    """The program director's final competency determination (S15), e-signed after re-authentication."""

    class Decision(models.TextChoices):
        COMPETENT = "competent", "Competent to perform and interpret independently"
        NOT_YET = "not_yet", "Not yet competent"

    enrollment = models.OneToOneField("trainees.Enrollment", on_delete=models.PROTECT, related_name="determination")
    director = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    in_person_component = models.TextField(blank=True)
    statement = models.TextField()
    signed_at = models.DateTimeField()
    signature_hash = models.CharField(max_length=64)


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
        FAILED = "failed", "Failed"

    IN_PROGRESS = {Status.QUEUED, Status.GENERATING}
    REVIEWABLE = {Status.SUBMITTED, Status.UNDER_REVIEW, Status.VERIFIED, Status.RETURNED}
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
    ready_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reasons = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status__in=["ready", "submitted", "under_review", "verified", "returned"])
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
