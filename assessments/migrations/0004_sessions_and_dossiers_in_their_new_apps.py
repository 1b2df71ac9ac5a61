"""Sign-off evidence now points at training.TrainingSession, and verification requests belong to the verification app
(moved apps, same tables). State only: nothing changes in the database."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0003_seed_in_person_competencies"),
        ("training", "0001_initial"),
        ("verification", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="signoff",
                    name="evidence_sessions",
                    field=models.ManyToManyField(blank=True, related_name="+", to="training.trainingsession"),
                ),
                migrations.DeleteModel(name="VerificationRequest"),
            ],
            database_operations=[],
        ),
    ]
