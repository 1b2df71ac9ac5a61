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
    evidence_sessions = models.ManyToManyField("training.TrainingSession", blank=True, related_name="+")
    entrustment_level = models.PositiveSmallIntegerField(default=4)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "competency"], name="signoff_unique")]


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
