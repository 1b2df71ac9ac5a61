"""Training sessions, attendance, lectures and calendar tokens now live in the training app; program reviews, their
events and feedback in the verification app. The tables keep their names: this removes the models from programs'
state only, and moves their content types (and so their permissions and admin log entries) with them."""

from django.db import migrations

# (old app, model) -> new app, for every model moved by this split.
MOVED = {
    ("programs", "trainingsession"): "training",
    ("programs", "attendance"): "training",
    ("programs", "lecture"): "training",
    ("programs", "lecturecompletion"): "training",
    ("programs", "calendarfeedtoken"): "training",
    ("programs", "programreview"): "verification",
    ("programs", "programreviewevent"): "verification",
    ("programs", "feedbackresponse"): "verification",
    ("assessments", "verificationrequest"): "verification",
    ("cases", "category"): "curriculum",
}


def move_content_types(apps, schema_editor, *, forwards=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for (old_app, model), new_app in MOVED.items():
        source, target = (old_app, new_app) if forwards else (new_app, old_app)
        # Where both rows exist (a database where post_migrate already made the new one), keep the old one's ids:
        # permissions and admin log entries point at it.
        if ContentType.objects.filter(app_label=target, model=model).exists():
            continue
        ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_back(apps, schema_editor):
    move_content_types(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0005_program_profile_reviews_lectures_calendar"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("cases", "0006_session_and_topics_in_their_new_apps"),
        ("assessments", "0004_sessions_and_dossiers_in_their_new_apps"),
        ("training", "0001_initial"),
        ("verification", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Attendance"),
                migrations.DeleteModel(name="LectureCompletion"),
                migrations.DeleteModel(name="ProgramReviewEvent"),
                migrations.DeleteModel(name="ProgramReview"),
                migrations.DeleteModel(name="FeedbackResponse"),
                migrations.DeleteModel(name="CalendarFeedToken"),
                migrations.DeleteModel(name="Lecture"),
                migrations.DeleteModel(name="TrainingSession"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_back),
    ]
