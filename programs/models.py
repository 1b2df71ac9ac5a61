import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower


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
    track_record_evidence = models.TextField(blank=True)
    video_setup_attestation = models.TextField(
        blank=True, help_text="Platform, console sharing method and diagnostic display used for remote image review."
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
    blind_review = models.BooleanField(
        default=False, help_text="Mentors record their own read before the trainee's read is shown to them."
    )
    # Stricter local requirements on top of the ruleset (same schema as a ruleset's requirements; checked by
    # trainees.engine.merge_local_rules, which refuses anything weaker).
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
        from django.core.exceptions import ValidationError

        from trainees.engine import RulesetError, get_ruleset, merge_local_rules

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


class TrainingSession(models.Model):
    """A training session (SPEC S4–S6, S13). Interactive types are capped per mentor; didactics are not."""

    class Type(models.TextChoices):
        DIDACTIC_LIVE = "didactic_live", "Didactic (live)"
        DIDACTIC_RECORDED = "didactic_recorded", "Didactic (recorded)"
        PROTOCOL_SELECTION = "protocol_selection", "Protocol selection"
        LIVE_ACQUISITION = "live_acquisition", "Live acquisition (scanner console)"
        PLANNING_TROUBLESHOOTING = "planning_troubleshooting", "Planning and troubleshooting"
        CASE_REVIEW = "case_review", "Case review"

    class Delivery(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIRTUAL_TWO_WAY = "virtual_two_way", "Virtual (two-way video)"

    DIDACTIC_TYPES = {Type.DIDACTIC_LIVE, Type.DIDACTIC_RECORDED}

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="sessions")
    type = models.CharField(max_length=30, choices=Type.choices)
    delivery = models.CharField(max_length=20, choices=Delivery.choices)
    title = models.CharField(max_length=200)
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_sessions")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField(null=True, blank=True)
    console_shared = models.BooleanField(default=False)
    console_shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    console_shared_at = models.DateTimeField(null=True, blank=True)
    link = models.URLField(blank=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_type_display()})"


class Attendance(models.Model):
    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="attendances")
    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.CASCADE, related_name="attendances")
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    active_input = models.BooleanField(default=False)
    active_input_note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "enrollment"], name="attendance_unique")]


class ProgramReview(models.Model):
    """SCMR review of a program's remote training plan (SPEC S11). One row per submission round."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="reviews")
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
        ordering = ["created_at", "id"]


class Lecture(models.Model):
    """The lecture library (S4): live or recorded didactics by curriculum topic; hours feed the engine."""

    class Kind(models.TextChoices):
        LIVE = "live", "Live"
        RECORDED = "recorded", "Recorded"

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="lectures")
    title = models.CharField(max_length=200)
    topic = models.ForeignKey("cases.Category", on_delete=models.PROTECT, related_name="lectures")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    source = models.CharField(max_length=200, blank=True, help_text="Faculty, or the external series")
    link = models.URLField(blank=True)
    is_mr_safety_module = models.BooleanField(
        default=False, help_text="Completing it is required before live acquisition sessions."
    )

    class Meta:
        ordering = ["topic__position", "title"]

    def __str__(self) -> str:
        return self.title


class LectureCompletion(models.Model):
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="completions")
    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.CASCADE, related_name="lecture_completions")
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lecture", "enrollment"], name="lecture_completed_once")]


class CalendarFeedToken(models.Model):
    """A private, revocable token for a user's ICS feed of their sessions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_tokens")
    token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class FeedbackResponse(models.Model):
    """Feedback from trainees and programs to SCMR about the virtual program (SPEC S12)."""

    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="feedback")
    period = models.CharField(max_length=20)
    answers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
