"""Training sessions, attendance, lectures and calendar tokens move from programs to training; the tables keep their names
(programs_*)."""

import django.db.models.deletion
import training.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("curriculum", "0001_initial"),
        ("programs", "0005_program_profile_reviews_lectures_calendar"),
        ("trainees", "0002_leaveperiod"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The tables exist already (created under their old app); only Django's model state moves. No row is touched.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CalendarFeedToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "token",
                            models.CharField(
                                default=training.models._new_token, editable=False, max_length=64, unique=True
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="calendar_tokens",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_calendarfeedtoken",
                    },
                ),
                migrations.CreateModel(
                    name="Lecture",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("title", models.CharField(max_length=200)),
                        ("kind", models.CharField(choices=[("live", "Live"), ("recorded", "Recorded")], max_length=10)),
                        ("hours", models.DecimalField(decimal_places=2, max_digits=4)),
                        (
                            "source",
                            models.CharField(blank=True, help_text="Faculty, or the external series", max_length=200),
                        ),
                        ("link", models.URLField(blank=True)),
                        (
                            "is_mr_safety_module",
                            models.BooleanField(
                                default=False, help_text="Completing it is required before live acquisition sessions."
                            ),
                        ),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="lectures",
                                to="programs.program",
                            ),
                        ),
                        (
                            "topic",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="lectures",
                                to="curriculum.category",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_lecture",
                        "ordering": ["topic__position", "title"],
                    },
                ),
                migrations.CreateModel(
                    name="TrainingSession",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "type",
                            models.CharField(
                                choices=[
                                    ("didactic_live", "Didactic (live)"),
                                    ("didactic_recorded", "Didactic (recorded)"),
                                    ("protocol_selection", "Protocol selection"),
                                    ("live_acquisition", "Live acquisition (scanner console)"),
                                    ("planning_troubleshooting", "Planning and troubleshooting"),
                                    ("case_review", "Case review"),
                                ],
                                max_length=30,
                            ),
                        ),
                        (
                            "delivery",
                            models.CharField(
                                choices=[("in_person", "In person"), ("virtual_two_way", "Virtual (two-way video)")],
                                max_length=20,
                            ),
                        ),
                        ("title", models.CharField(max_length=200)),
                        ("starts_at", models.DateTimeField()),
                        ("duration_minutes", models.PositiveIntegerField()),
                        ("capacity", models.PositiveIntegerField(blank=True, null=True)),
                        ("console_shared", models.BooleanField(default=False)),
                        ("console_shared_at", models.DateTimeField(blank=True, null=True)),
                        ("link", models.URLField(blank=True)),
                        (
                            "console_shared_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "mentor",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="led_sessions",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "program",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sessions",
                                to="programs.program",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_trainingsession",
                        "ordering": ["-starts_at"],
                    },
                ),
                migrations.CreateModel(
                    name="LectureCompletion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("completed_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "enrollment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="lecture_completions",
                                to="trainees.enrollment",
                            ),
                        ),
                        (
                            "lecture",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="completions",
                                to="training.lecture",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_lecturecompletion",
                        "constraints": [
                            models.UniqueConstraint(fields=("lecture", "enrollment"), name="lecture_completed_once")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Attendance",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("joined_at", models.DateTimeField(blank=True, null=True)),
                        ("left_at", models.DateTimeField(blank=True, null=True)),
                        ("active_input", models.BooleanField(default=False)),
                        ("active_input_note", models.CharField(blank=True, max_length=500)),
                        (
                            "enrollment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="attendances",
                                to="trainees.enrollment",
                            ),
                        ),
                        (
                            "session",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="attendances",
                                to="training.trainingsession",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "programs_attendance",
                        "constraints": [
                            models.UniqueConstraint(fields=("session", "enrollment"), name="attendance_unique")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
