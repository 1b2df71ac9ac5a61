"""The curriculum topics move from cases to curriculum; the table keeps its name (cases_category)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("cases", "0005_structured_read_amendments_group_reviews_reminders"),
    ]

    # The tables exist already (created under their old app); only Django's model state moves. No row is touched.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Category",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("slug", models.SlugField(unique=True)),
                        ("name", models.CharField(max_length=100)),
                        ("position", models.PositiveSmallIntegerField(default=0)),
                    ],
                    options={
                        "verbose_name_plural": "categories",
                        "db_table": "cases_category",
                        "ordering": ["position"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
