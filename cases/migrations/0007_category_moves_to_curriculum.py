"""The curriculum topics now live in the curriculum app (same table, cases_category): removed from cases' state only,
once nothing in the state of other apps points at cases.Category any more."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_session_and_topics_in_their_new_apps"),
        ("programs", "0006_sessions_and_reviews_move_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Category")],
            database_operations=[],
        ),
    ]
