from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Upper

from curriculum import cmr

pseudonymous_reference = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{2,39}$",
    "Use a pseudonymous study reference (3–40 letters, digits, dots, dashes), never a name, MRN or birth date.",
)


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

    class Contrast(models.TextChoices):
        NONE = "none", "None"
        GBCA_MACROCYCLIC = "gbca_macrocyclic", "Gadolinium, macrocyclic"
        GBCA_LINEAR = "gbca_linear", "Gadolinium, linear"
        FERUMOXYTOL = "ferumoxytol", "Ferumoxytol"
        OTHER = "other", "Other"

    class Stress(models.TextChoices):
        NONE = "none", "No stress"
        ADENOSINE = "adenosine", "Adenosine"
        REGADENOSON = "regadenoson", "Regadenoson"
        DIPYRIDAMOLE = "dipyridamole", "Dipyridamole"
        DOBUTAMINE = "dobutamine", "Dobutamine"
        EXERCISE = "exercise", "Exercise"

    class Device(models.TextChoices):
        NONE = "none", "None"
        PACEMAKER = "pacemaker", "Pacemaker"
        ICD = "icd", "ICD"
        CRT = "crt", "CRT"
        LOOP_RECORDER = "loop_recorder", "Implantable loop recorder"
        OTHER = "other", "Other device"

    class Sedation(models.TextChoices):
        NONE = "none", "None"
        SEDATION = "sedation", "Sedation"
        GENERAL = "general", "General anaesthesia"

    class Vendor(models.TextChoices):
        SIEMENS = "siemens", "Siemens Healthineers"
        GE = "ge", "GE HealthCare"
        PHILIPS = "philips", "Philips"
        CANON = "canon", "Canon"
        UNITED_IMAGING = "united_imaging", "United Imaging"
        OTHER = "other", "Other"

    # What the study was (SPEC section 3). "" means not recorded (entries logged before these fields existed).
    CLINICAL_FIELDS = [
        "field_strength",
        "vendor",
        "contrast_agent",
        "stress_agent",
        "stress_supervisor",
        "cardiac_device",
        "congenital",
        "paediatric",
        "sedation",
        "sequences",
        "diagnosis",
    ]

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(max_length=40, validators=[pseudonymous_reference])
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CENTER_ARCHIVE)
    complete_study = models.BooleanField(default=True)
    indication = models.CharField(max_length=200, blank=True)
    categories = models.ManyToManyField("curriculum.Category", related_name="cases")
    technique_tags = models.JSONField(default=list, blank=True)
    field_strength = models.CharField(max_length=10, choices=FieldStrength.choices, default=FieldStrength.T1_5)
    vendor = models.CharField("scanner vendor", max_length=20, choices=Vendor.choices, blank=True)
    contrast_agent = models.CharField(max_length=20, choices=Contrast.choices, blank=True)
    stress_agent = models.CharField(max_length=20, choices=Stress.choices, blank=True)
    # Who supervised the stress in person (SCMR 2021: stress testing "may require an in-person experience").
    stress_supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cardiac_device = models.CharField("cardiac device", max_length=20, choices=Device.choices, blank=True)
    congenital = models.BooleanField("congenital heart disease", default=False)
    paediatric = models.BooleanField(default=False)
    sedation = models.CharField(max_length=10, choices=Sedation.choices, blank=True)
    sequences = models.JSONField(default=list, blank=True, help_text="Codes from curriculum.cmr.SEQUENCES.")
    diagnosis = models.CharField(max_length=40, blank=True, help_text="A code of the diagnosis taxonomy.")
    diagnosis_taxonomy = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "reference"], name="case_unique_reference")]
        # Logging looks a case up by its reference, case-insensitively (reference__iexact → UPPER(...)).
        indexes = [models.Index(Upper("reference"), "program", name="case_reference_upper_idx")]

    def __str__(self) -> str:
        return self.reference

    @property
    def diagnosis_label(self) -> str:
        found = cmr.diagnosis(self.diagnosis) if self.diagnosis else None
        return found.label if found else self.diagnosis

    @property
    def sequences_display(self) -> list[str]:
        labels = dict(cmr.SEQUENCES)
        return [labels.get(code, code) for code in self.sequences or []]

    @property
    def study_display(self) -> list[tuple[str, str]]:
        """(label, value) of what was recorded about the study, for pages and the dossier."""
        rows = [("Field strength", self.get_field_strength_display())]
        for name in ("vendor", "contrast_agent", "stress_agent", "cardiac_device", "sedation"):
            if getattr(self, name):
                field = self._meta.get_field(name)
                rows.append((str(field.verbose_name).capitalize(), getattr(self, f"get_{name}_display")()))
        if self.stress_supervisor_id:
            rows.append(("Stress supervised in person by", str(self.stress_supervisor)))
        patient = [label for flag, label in ((self.congenital, "congenital"), (self.paediatric, "paediatric")) if flag]
        if patient:
            rows.append(("Patient", ", ".join(patient)))
        if self.sequences:
            rows.append(("Sequences", ", ".join(self.sequences_display)))
        return rows


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

    class LGEPattern(models.TextChoices):
        NONE = "none", "No LGE"
        SUBENDOCARDIAL = "subendocardial", "Subendocardial"
        TRANSMURAL = "transmural", "Transmural"
        MID_WALL = "mid_wall", "Mid-wall"
        SUBEPICARDIAL = "subepicardial", "Subepicardial"
        RV_INSERTION = "rv_insertion", "RV insertion points"
        DIFFUSE = "diffuse", "Diffuse / patchy"
        NOT_ASSESSED = "not_assessed", "Not assessed"

    # What the trainee did with the case. Only the first two are *performing* the scan (SCMR 2018: hands-on
    # experience; the SCMR 2021 virtual statement substitutes observation for only "a portion" of it): watching the
    # console, in the room or remotely, is observation and never counts as performed.
    ROLE_FIELDS = [
        "primary_operator",
        "assisted_console",
        "observed_in_room",
        "observed_remotely",
        "interpreted",
        "preliminary_report",
        "protocolled",
        "post_processed",
    ]
    PERFORMED_ROLES = ("primary_operator", "assisted_console")
    OBSERVED_ROLES = ("observed_in_room", "observed_remotely")
    # The structured read, recorded by the trainee and (blind review) by the mentor, compared field by field.
    READ_FIELDS = ["lvef", "lv_edvi", "lge_pattern", "final_diagnosis"]
    EDITABLE_STATUSES = {Status.DRAFT, Status.RETURNED}

    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.PROTECT, related_name="entries")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="entries")
    performed_on = models.DateField("date")
    primary_operator = models.BooleanField("primary operator at the console", default=False)
    assisted_console = models.BooleanField("assisted at the console", default=False)
    observed_in_room = models.BooleanField("observed in the room", default=False)
    observed_remotely = models.BooleanField("observed remotely", default=False)
    interpreted = models.BooleanField(default=False)
    preliminary_report = models.BooleanField("preliminary report written", default=False)
    protocolled = models.BooleanField(default=False)
    post_processed = models.BooleanField("post-processed", default=False)
    delivery = models.CharField(max_length=25, choices=Delivery.choices, default=Delivery.IN_PERSON)
    session = models.ForeignKey(
        "training.TrainingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    supervising_mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervised_entries"
    )
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    key_measurements = models.TextField(blank=True)
    lvef = models.PositiveSmallIntegerField("LVEF (%)", null=True, blank=True, validators=[MaxValueValidator(100)])
    lv_edvi = models.PositiveSmallIntegerField(
        "LV EDV index (ml/m²)", null=True, blank=True, validators=[MaxValueValidator(400)]
    )
    lge_pattern = models.CharField("LGE pattern", max_length=20, choices=LGEPattern.choices, blank=True)
    final_diagnosis = models.CharField(max_length=200, blank=True)
    # The mentor's own read. With blind review the mentor records it before the trainee's read is shown.
    mentor_lvef = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    mentor_lv_edvi = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(400)])
    mentor_lge_pattern = models.CharField(max_length=20, choices=LGEPattern.choices, blank=True)
    mentor_final_diagnosis = models.CharField(max_length=200, blank=True)
    mentor_read_at = models.DateTimeField(null=True, blank=True)
    agreement = models.JSONField(default=dict, blank=True, help_text="Per read field: did the mentor agree?")
    group_review = models.ForeignKey(
        "GroupReview", null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    # Set on imported entries: re-importing the same row finds it instead of duplicating it.
    import_key = models.CharField(max_length=64, blank=True)
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
            models.UniqueConstraint(
                fields=["enrollment", "import_key"], condition=~models.Q(import_key=""), name="entry_unique_import_key"
            ),
            models.CheckConstraint(
                condition=models.Q(primary_operator=True)
                | models.Q(assisted_console=True)
                | models.Q(observed_in_room=True)
                | models.Q(observed_remotely=True)
                | models.Q(interpreted=True)
                | models.Q(preliminary_report=True)
                | models.Q(protocolled=True)
                | models.Q(post_processed=True),
                name="entry_has_a_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case.reference} on {self.performed_on}"

    @classmethod
    def role_flags(cls, roles) -> dict[str, bool]:
        """The list of roles a form, the API or an import gives, as the entry's boolean fields."""
        roles = set(roles)
        return {name: name in roles for name in cls.ROLE_FIELDS}

    @property
    def roles(self) -> list[str]:
        """The entry's roles as a list, in ROLE_FIELDS order."""
        return [name for name in self.ROLE_FIELDS if getattr(self, name)]

    @property
    def program_blind_review(self) -> bool:
        return self.enrollment.program.blind_review

    @property
    def awaiting_blind_read(self) -> bool:
        """Blind review: the mentor records their own read before the trainee's is shown to them. True while the
        entry waits for that read (the one statement of the rule; `read_hidden_from` applies it to a user)."""
        return self.status == self.Status.SUBMITTED and self.program_blind_review and self.mentor_read_at is None

    def read_hidden_from(self, user) -> bool:
        return self.awaiting_blind_read and self.supervising_mentor_id == user.pk

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def agreement_display(self) -> list[tuple[str, bool]]:
        """(field label, agreed) of the per-field agreement, in READ_FIELDS order."""
        labels = {name: str(self._meta.get_field(name).verbose_name) for name in self.READ_FIELDS}
        return [(labels[name], self.agreement[name]) for name in self.READ_FIELDS if name in (self.agreement or {})]

    @property
    def roles_display(self) -> list[str]:
        return [str(self._meta.get_field(f).verbose_name) for f in self.ROLE_FIELDS if getattr(self, f)]


class CaseLogAmendment(models.Model):
    """A correction of a signed entry: the reason, and the entry before and after. The original is never lost."""

    entry = models.ForeignKey(CaseLogEntry, on_delete=models.CASCADE, related_name="amendments")
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    before = models.JSONField()
    after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Amendment of {self.entry_id} on {self.created_at:%Y-%m-%d}"


class GroupReview(models.Model):
    """A case a mentor reviewed with several trainees in one session, recorded once; each attending trainee gets an
    entry to confirm with their own read."""

    session = models.ForeignKey(
        "training.TrainingSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="group_reviews"
    )
    mentor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="group_reviews")
    performed_on = models.DateField()
    delivery = models.CharField(max_length=25, choices=CaseLogEntry.Delivery.choices)
    teaching_points = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-performed_on", "-id"]

    def __str__(self) -> str:
        return f"Group review of {self.case} on {self.performed_on}"


class ReminderLog(models.Model):
    """One reminder e-mail per person, kind and day: the beat job can run twice without sending twice."""

    class Kind(models.TextChoices):
        MENTOR_DIGEST = "mentor_digest", "Mentor review digest"
        TRAINEE_NUDGE = "trainee_nudge", "Trainee logging nudge"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    sent_on = models.DateField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "sent_on"], name="reminder_once_a_day")]
