from django.conf import settings
from django.db import models
from django.utils import timezone


class Competency(models.Model):
    """A competency of a versioned framework (assessments/frameworks/*.yaml, written here by `sync_frameworks`).
    `in_person_required` ones cannot be signed from virtual evidence (S8)."""

    framework = models.CharField(max_length=60)
    version = models.PositiveSmallIntegerField(default=1)
    code = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    in_person_required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=60, blank=True)
    cites = models.TextField(blank=True)

    class Meta:
        ordering = ["framework", "version", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "version", "code"], name="competency_unique_code"),
        ]
        verbose_name_plural = "competencies"

    def __str__(self) -> str:
        return self.title


class SignOff(models.Model):
    """A mentor's or the director's sign-off of one competency for one trainee: the date it was observed, the
    delivery, the entrustment level on the framework's scale, the evidence (entries of the trainee's log, sessions
    they attended) and a note. Written by assessments.services only; immutable, corrected by an amendment with a
    reason (SignOffAmendment keeps the before and after)."""

    class Delivery(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIRTUAL = "virtual", "Virtual"

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="sign_offs")
    competency = models.ForeignKey(Competency, on_delete=models.PROTECT, related_name="sign_offs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_on = models.DateField()
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    evidence_entries = models.ManyToManyField("cases.CaseLogEntry", blank=True, related_name="+")
    evidence_sessions = models.ManyToManyField("training.TrainingSession", blank=True, related_name="+")
    entrustment_level = models.PositiveSmallIntegerField(default=4)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "competency"], name="signoff_unique"),
            models.CheckConstraint(condition=models.Q(entrustment_level__gte=1), name="signoff_entrustment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.competency} ({self.get_delivery_display()}, {self.signed_on})"


class SignOffAmendment(models.Model):
    """A correction of a sign-off: who, why, and the sign-off before and after. The original is never lost."""

    sign_off = models.ForeignKey(SignOff, on_delete=models.PROTECT, related_name="amendments")
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    before = models.JSONField()
    after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=~models.Q(reason=""), name="signoff_amendment_has_reason")]

    def __str__(self) -> str:
        return f"Amendment of sign-off {self.sign_off_id}"


class PriorExperience(models.Model):
    """The mentor's record that a trainee's prior experience covers an in-person competency (SCMR 2021: "Depending on
    a trainee's experience, some components ... may require an in-person experience"). Written once, with a reason."""

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="prior_experience")
    competency = models.ForeignKey(Competency, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "competency"], name="prior_experience_once"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="prior_experience_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Prior experience: {self.competency} ({self.enrollment_id})"


class FinalDetermination(models.Model):
    """The program director's final competency determination (S15), signed after re-authentication (password, and
    the second factor for MFA users). Written once: a new determination supersedes the previous one, which stays.

    The signature is a SHA-256 over the determination and the report it rests on; `evidence_fingerprint` is what the
    log, the sign-offs and the enrollment looked like when it was signed, so a later change marks it stale."""

    class Decision(models.TextChoices):
        COMPETENT = "competent", "Competent to perform and interpret independently"
        NOT_YET = "not_yet", "Not yet competent"

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="determinations")
    director = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    # SCMR 2021: "a final assessment of the trainee's competency may still require an in-person training component
    # allowing the mentor to observe the trainee's ability to acquire and interpret a CMR examination".
    in_person_assessed_on = models.DateField("in-person final assessment on", null=True, blank=True)
    in_person_entry = models.ForeignKey(
        "cases.CaseLogEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    in_person_component = models.TextField(blank=True)
    statement = models.TextField()
    # The attestation the director confirmed, word for word (verification.services.determinations.ATTESTATION).
    attestation = models.TextField(blank=True)
    ruleset = models.CharField(max_length=80, blank=True)
    requirements_met = models.BooleanField(default=False)
    report_sha256 = models.CharField(max_length=64, blank=True)
    evidence_fingerprint = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField()
    signature_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-signed_at", "-id"]
        get_latest_by = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.signed_at:%Y-%m-%d})"
