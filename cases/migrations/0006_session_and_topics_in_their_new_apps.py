"""The entry's session now points at training.TrainingSession and a case's topics at curriculum.Category (moved apps,
same tables). State only: the columns and the foreign keys in the database stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_structured_read_amendments_group_reviews_reminders"),
        ("curriculum", "0001_initial"),
        ("training", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="categories",
                    field=models.ManyToManyField(related_name="cases", to="curriculum.category"),
                ),
                migrations.AlterField(
                    model_name="caselogentry",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="entries",
                        to="training.trainingsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="groupreview",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="group_reviews",
                        to="training.trainingsession",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
