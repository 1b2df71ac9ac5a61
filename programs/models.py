import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from trainingportal.core.phi import validate_reference_pattern
from trainingportal.engine import RulesetError, get_ruleset, merge_local_rules


class Program(models.Model):
    """A CMR training program run by a training center, led by a Level III director (SPEC S1–S3, S9–S14)."""

    class Mode(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        HYBRID = "hybrid", "Hybrid"
        VIRTUAL = "virtual", "Virtual"

    class VerificationStatus(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted to SCMR"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        VERIFIED = "verified", "Verified by SCMR"
        DECLINED = "declined", "Declined"

    name = models.CharField(max_length=200)
    institution = models.CharField(max_length=200)
    director = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="directed_programs")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.HYBRID)
    onsite_training_years = models.PositiveSmallIntegerField("years of on-site training", null=True, blank=True)
    onsite_trainees_trained = models.PositiveIntegerField("trainees trained on site", null=True, blank=True)
    # TextFields with a max_length: the forms and the API refuse longer text (the database does not need to).
    track_record_evidence = models.TextField(blank=True, max_length=4000)
    video_setup_attestation = models.TextField(
        blank=True,
        max_length=4000,
        help_text="Platform, console sharing method and diagnostic display used for remote image review.",
    )
    video_platform = models.CharField(max_length=100, blank=True, help_text="e.g. a hospital-approved video platform")
    console_sharing_method = models.CharField(
        max_length=200, blank=True, help_text="How the scanner console is shown to remote trainees during a scan."
    )
    display_meets_local_standards = models.BooleanField("display meets local standards for image review", default=False)
    didactic_source = models.CharField(
        max_length=20,
        choices=[
            ("own_live", "Program faculty, live"),
            ("own_recorded", "Program faculty, recorded"),
            ("external_series", "External pre-recorded series (e.g. SCMR)"),
        ],
        blank=True,
    )
    remote_training_plan = models.FileField(upload_to="plans/", blank=True)
    remote_training_plan_sha256 = models.CharField(max_length=64, blank=True)
    privacy_attestation = models.BooleanField(
        default=False, help_text="The program follows local patient-privacy policies; no PHI is entered here."
    )
    max_virtual_share = models.PositiveSmallIntegerField(
        "maximum virtual share (%)", default=50, validators=[MaxValueValidator(100)]
    )
    interactive_group_cap = models.PositiveSmallIntegerField(
        "trainees per mentor in interactive sessions", default=4, validators=[MinValueValidator(1)]
    )
    ruleset = models.CharField(max_length=60, default="scmr-2018-level-2")
    # Empty: any pseudonym that passes the built-in rule (no record number, date or name; core.phi).
    case_reference_pattern = models.CharField(
        "case reference pattern",
        max_length=120,
        blank=True,
        default="",
        validators=[validate_reference_pattern],
        help_text="Optional regular expression every case reference must match, anchored with ^ and $ "
        r"(e.g. ^NB-\d{4}-\d{4}$). References are always refused when they look like a record number, a date or a name.",
    )
    # On by default (SCMR 2021: "The image analysis and initial interpretation of a CMR exam remains an essential
    # part of the competency assessment"): the trainee's own first read is compared with the mentor's.
    blind_review = models.BooleanField(
        default=True, help_text="Mentors record their own read before the trainee's read is shown to them."
    )
    # The SCMR 2021 virtual-training rules are written for Level II; a program may apply them to its Level I and III
    # rulesets as well.
    virtual_overlay_all_levels = models.BooleanField(
        "apply the virtual-training rules to Level I and III too",
        default=False,
        help_text="The SCMR 2021 rules (virtual share, attended sessions, console sharing, in-person competencies) "
        "always apply to Level II.",
    )
    # Stricter local requirements on top of the ruleset (same schema as a ruleset's requirements; checked by
    # trainingportal.engine.merge_local_rules, which refuses anything weaker).
    local_rules = models.JSONField(default=list, blank=True)
    verification_status = models.CharField(
        max_length=20, choices=VerificationStatus.choices, default=VerificationStatus.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_virtual_share__lte=100), name="program_virtual_share_max_100")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        try:
            merge_local_rules(get_ruleset(self.ruleset), self.local_rules or [])
        except RulesetError as exc:
            raise ValidationError({"local_rules": str(exc)}) from exc


class Membership(models.Model):
    class Role(models.TextChoices):
        DIRECTOR = "director", "Program director"
        MENTOR = "mentor", "Mentor"
        TRAINEE = "trainee", "Trainee"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "program", "role"], name="membership_unique_role")]
        indexes = [models.Index(fields=["program", "role"])]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} in {self.program}"


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """An e-mailed link that signs a person up into a program role."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=[(r.value, r.label) for r in Membership.Role if r != "director"])
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For trainees: the mentor who supervises them.",
    )
    token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "program",
                "role",
                condition=models.Q(accepted_at__isnull=True),
                name="invitation_one_open_per_email_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} in {self.program}"
