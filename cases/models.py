from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper

pseudonymous_reference = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$",
    "Use a pseudonymous study reference (3–40 letters, digits, dots, dashes), never a name, MRN or birth date.",
)


class Category(models.Model):
    """One of the 15 SCMR Level I curriculum topics; the rows come from migration 0003_seed_curriculum_topics.

    Slugs are stable: rulesets and exports refer to them.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """A de-identified CMR study from the center's archive, a registry or a live scan (SPEC S7, S10)."""

    class Source(models.TextChoices):
        CENTER_ARCHIVE = "center_archive", "Center archive"
        REGISTRY = "registry", "Registry (e.g. SCMR)"
        LIVE_SCAN = "live_scan", "Live scan"
        TEACHING_FILE = "teaching_file", "Teaching file"

    class FieldStrength(models.TextChoices):
        T1_5 = "1.5T", "1.5 T"
        T3 = "3T", "3 T"
        OTHER = "other", "Other"

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(max_length=40, validators=[pseudonymous_reference])
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CENTER_ARCHIVE)
    complete_study = models.BooleanField(default=True)
    indication = models.CharField(max_length=200, blank=True)
    categories = models.ManyToManyField(Category, related_name="cases")
    technique_tags = models.JSONField(default=list, blank=True)
    field_strength = models.CharField(max_length=10, choices=FieldStrength.choices, default=FieldStrength.T1_5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "reference"], name="case_unique_reference")]
        # Logging looks a case up by its reference, case-insensitively (reference__iexact → UPPER(...)).
        indexes = [models.Index(Upper("reference"), "program", name="case_reference_upper_idx")]

    def __str__(self) -> str:
        return self.reference


class CaseLogEntry(models.Model):
    """One trainee's involvement with one case, reviewed and signed by a mentor. Signed entries are immutable."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Awaiting review"
        SIGNED = "signed", "Signed"
        RETURNED = "returned", "Returned for changes"

    class Delivery(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIRTUAL_LIVE_TWO_WAY = "virtual_live_two_way", "Virtual, live two-way"
        ASYNCHRONOUS = "asynchronous", "Asynchronous"

    ROLE_FIELDS = ["interpreted", "acquired_hands_on", "observed_console", "protocolled", "post_processed"]
    EDITABLE_STATUSES = {Status.DRAFT, Status.RETURNED}

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="entries")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="entries")
    performed_on = models.DateField("date")
    interpreted = models.BooleanField(default=False)
    acquired_hands_on = models.BooleanField("acquired hands-on", default=False)
    observed_console = models.BooleanField("observed at the console", default=False)
    protocolled = models.BooleanField(default=False)
    post_processed = models.BooleanField("post-processed", default=False)
    delivery = models.CharField(max_length=25, choices=Delivery.choices, default=Delivery.IN_PERSON)
    session = models.ForeignKey(
        "programs.TrainingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    supervising_mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervised_entries"
    )
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    key_measurements = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    mentor_feedback = models.TextField(blank=True)
    mentor_agrees = models.BooleanField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="signed_entries"
    )
    returned_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-performed_on", "-id"]
        verbose_name_plural = "case log entries"
        indexes = [
            models.Index(fields=["enrollment", "status"]),
            models.Index(fields=["supervising_mentor", "status", "submitted_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="signed")
                | (models.Q(signed_at__isnull=False) & models.Q(signed_by__isnull=False)),
                name="entry_signed_has_signer",
            ),
            models.CheckConstraint(
                condition=models.Q(interpreted=True)
                | models.Q(acquired_hands_on=True)
                | models.Q(observed_console=True)
                | models.Q(protocolled=True)
                | models.Q(post_processed=True),
                name="entry_has_a_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} on {self.performed_on}"

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def roles_display(self) -> list[str]:
        return [str(self._meta.get_field(f).verbose_name) for f in self.ROLE_FIELDS if getattr(self, f)]
