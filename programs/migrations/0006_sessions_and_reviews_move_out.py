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
    Permission = apps.get_model("auth", "Permission")
    for (old_app, model), new_app in MOVED.items():
        source, target = (old_app, new_app) if forwards else (new_app, old_app)
        existing = ContentType.objects.filter(app_label=source, model=model).first()
        if existing is None:
            continue  # a new database: post_migrate creates the content type under its new app
        # Where post_migrate already made a row under the new label (the apps migrated one at a time, or a reversal
        # re-applied), that row is new and empty: remove it and its default permissions, so that the old row — which
        # permissions, groups and admin log entries point at — takes the label.
        fresh = ContentType.objects.filter(app_label=target, model=model).first()
        if fresh is not None:
            Permission.objects.filter(content_type=fresh).delete()
            fresh.delete()
        existing.app_label = target
        existing.save(update_fields=["app_label"])


def move_back(apps, schema_editor):
    move_content_types(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0005_program_profile_reviews_lectures_calendar"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
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
