"""Program reviews, their events and feedback (from programs) and verification requests (from assessments) move to
verification; the tables keep their names (programs_*, assessments_verificationrequest)."""

import django.db.models.deletion
import verification.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("assessments", "0003_seed_in_person_competencies"),
        ("programs", "0005_program_profile_reviews_lectures_calendar"),
        ("trainees", "0002_leaveperiod"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The tables exist already (created under their old app); only Django's model state moves. No row is touched.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="FeedbackResponse",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("period", models.CharField(max_length=20)),
                        ("answers", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="feedback",
                                to="programs.program",
                            ),
                        ),
                        (
                            "respondent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_feedbackresponse",
                    },
                ),
                migrations.CreateModel(
                    name="ProgramReview",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("submitted_at", models.DateTimeField(auto_now_add=True)),
                        ("plan_snapshot", models.JSONField(default=dict)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("draft", "Draft"),
                                    ("submitted", "Submitted to SCMR"),
                                    ("changes_requested", "Changes requested"),
                                    ("verified", "Verified by SCMR"),
                                    ("declined", "Declined"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("comments", models.JSONField(blank=True, default=dict)),
                        ("decided_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="reviews",
                                to="programs.program",
                            ),
                        ),
                        (
                            "reviewer",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "submitted_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_programreview",
                        "ordering": ["-submitted_at"],
                    },
                ),
                migrations.CreateModel(
                    name="ProgramReviewEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("submitted", "Submitted"),
                                    ("taken", "Review started"),
                                    ("commented", "Commented"),
                                    ("changes_requested", "Changes requested"),
                                    ("verified", "Verified"),
                                    ("declined", "Declined"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("comment", models.TextField(blank=True)),
                        (
                            "line_comments",
                            models.JSONField(blank=True, default=dict, help_text="Checklist line (S1–S15) -> comment"),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "review",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="verification.programreview",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_programreviewevent",
                        "ordering": ["created_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="VerificationRequest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("generating", "Generating"),
                                    ("ready", "Ready"),
                                    ("submitted", "Submitted to SCMR"),
                                    ("under_review", "Under review"),
                                    ("verified", "Verified"),
                                    ("returned", "Returned"),
                                    ("failed", "Failed"),
                                ],
                                db_index=True,
                                default="queued",
                                max_length=15,
                            ),
                        ),
                        (
                            "code",
                            models.CharField(
                                default=verification.models._verification_code,
                                editable=False,
                                max_length=12,
                                unique=True,
                            ),
                        ),
                        ("dossier", models.FileField(blank=True, upload_to="dossiers/")),
                        ("sha256", models.CharField(blank=True, max_length=64)),
                        ("size_bytes", models.PositiveIntegerField(blank=True, null=True)),
                        ("page_count", models.PositiveIntegerField(blank=True, null=True)),
                        ("snapshot", models.JSONField(blank=True, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("failure_reason", models.TextField(blank=True)),
                        ("render_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("ready_at", models.DateTimeField(blank=True, null=True)),
                        ("submitted_at", models.DateTimeField(blank=True, null=True)),
                        ("decision_reasons", models.TextField(blank=True)),
                        ("decided_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "enrollment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="verification_requests",
                                to="trainees.enrollment",
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "reviewer",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "assessments_verificationrequest",
                        "ordering": ["-created_at", "-id"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(
                                        ("status__in", ["ready", "submitted", "under_review", "verified", "returned"]),
                                        _negated=True,
                                    ),
                                    models.Q(("sha256", ""), _negated=True),
                                    _connector="OR",
                                ),
                                name="vr_dossier_has_hash",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
