from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class Enrollment(models.Model):
    """A trainee's enrollment in a program toward a target level, evaluated against one ruleset version."""

    class Level(models.TextChoices):
        I = "I", "Level I"  # noqa: E741
        II = "II", "Level II"
        III = "III", "Level III"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Track(models.TextChoices):
        FULL_TIME = "full_time", "Full time"
        PART_TIME = "part_time", "Part time"

    trainee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrollments")
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="enrollments")
    mentors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="supervised_enrollments")
    target_level = models.CharField(max_length=3, choices=Level.choices, default=Level.II)
    track = models.CharField(max_length=10, choices=Track.choices, default=Track.FULL_TIME)
    fte_fraction = models.DecimalField("FTE fraction", max_digits=3, decimal_places=2, default=1)
    ruleset = models.CharField(max_length=60, default="scmr-2018-level-2")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Level I experience carried forward toward Level II (SPEC section 4).
    carried_forward_cases = models.PositiveIntegerField(default=0)
    carried_forward_months = models.DecimalField(max_digits=4, decimal_places=1, default=0)
    # The mentor's lower virtual share for this trainee (SCMR 2021: the share "can vary depending on ... the
    # competency of the individual trainee as evaluated by the CMR mentor"). Never above the program's; empty means
    # the program's. Set through trainees.services.set_trainee_virtual_share.
    max_virtual_share = models.PositiveSmallIntegerField(
        "maximum virtual share for this trainee (%)", null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    max_virtual_share_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "trainee__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["trainee", "program", "target_level"],
                condition=models.Q(status="active"),
                name="enrollment_one_active_per_level",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="enrollment_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trainee} — Level {self.target_level}, {self.program}"


class LeavePeriod(models.Model):
    """Time away from training (inclusive dates); it does not count toward the training duration."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="leave_periods")
    start_date = models.DateField()
    end_date = models.DateField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="leave_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"Leave {self.start_date}–{self.end_date}"
