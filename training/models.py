"""Training sessions, attendance, the lecture library and calendar feeds (SPEC S4–S6, S13)."""

import secrets

from django.conf import settings
from django.db import models


def _new_token() -> str:
    return secrets.token_urlsafe(32)


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

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="sessions")
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
        db_table = "programs_trainingsession"
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
        db_table = "programs_attendance"
        constraints = [models.UniqueConstraint(fields=["session", "enrollment"], name="attendance_unique")]


class Lecture(models.Model):
    """The lecture library (S4): live or recorded didactics by curriculum topic; hours feed the engine."""

    class Kind(models.TextChoices):
        LIVE = "live", "Live"
        RECORDED = "recorded", "Recorded"

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="lectures")
    title = models.CharField(max_length=200)
    topic = models.ForeignKey("curriculum.Category", on_delete=models.PROTECT, related_name="lectures")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    source = models.CharField(max_length=200, blank=True, help_text="Faculty, or the external series")
    link = models.URLField(blank=True)
    is_mr_safety_module = models.BooleanField(
        default=False, help_text="Completing it is required before live acquisition sessions."
    )

    class Meta:
        db_table = "programs_lecture"
        ordering = ["topic__position", "title"]

    def __str__(self) -> str:
        return self.title


class LectureCompletion(models.Model):
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="completions")
    enrollment = models.ForeignKey("trainees.Enrollment", on_delete=models.CASCADE, related_name="lecture_completions")
    completed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "programs_lecturecompletion"
        constraints = [models.UniqueConstraint(fields=["lecture", "enrollment"], name="lecture_completed_once")]


class CalendarFeedToken(models.Model):
    """A private, revocable token for a user's ICS feed of their sessions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_tokens")
    token = models.CharField(max_length=64, unique=True, default=_new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "programs_calendarfeedtoken"
