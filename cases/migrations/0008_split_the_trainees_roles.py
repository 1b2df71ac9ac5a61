"""The trainee's role on an entry, split so that performing the scan and watching it are different things.

How today's values map (nothing is lost, nothing is promoted):
- acquired_hands_on  → assisted_console (performed; "assisted" rather than "primary operator": the old field did
  not say who was at the controls, so the weaker claim is kept);
- observed_console   → observed_in_room for in-person entries, observed_remotely for virtual and asynchronous ones;
- interpreted, protocolled, post_processed unchanged; primary_operator and preliminary_report start False.
The reverse maps back (assisted_console or primary_operator → acquired_hands_on; either observation →
observed_console)."""

from django.db import migrations, models


def split_observation(apps, schema_editor):
    Entry = apps.get_model("cases", "CaseLogEntry")
    Entry.objects.filter(observed_in_room=True).exclude(delivery="in_person").update(
        observed_in_room=False, observed_remotely=True
    )


def join_observation(apps, schema_editor):
    Entry = apps.get_model("cases", "CaseLogEntry")
    Entry.objects.filter(observed_remotely=True).update(observed_in_room=True)
    Entry.objects.filter(primary_operator=True).update(assisted_console=True)


class Migration(migrations.Migration):
    dependencies = [("cases", "0007_category_moves_to_curriculum")]

    operations = [
        migrations.RemoveConstraint("caselogentry", "entry_has_a_role"),
        migrations.RenameField("caselogentry", "acquired_hands_on", "assisted_console"),
        migrations.RenameField("caselogentry", "observed_console", "observed_in_room"),
        migrations.AlterField(
            "caselogentry",
            "assisted_console",
            models.BooleanField(default=False, verbose_name="assisted at the console"),
        ),
        migrations.AlterField(
            "caselogentry",
            "observed_in_room",
            models.BooleanField(default=False, verbose_name="observed in the room"),
        ),
        migrations.AddField(
            "caselogentry",
            "primary_operator",
            models.BooleanField(default=False, verbose_name="primary operator at the console"),
        ),
        migrations.AddField(
            "caselogentry", "observed_remotely", models.BooleanField(default=False, verbose_name="observed remotely")
        ),
        migrations.AddField(
            "caselogentry",
            "preliminary_report",
            models.BooleanField(default=False, verbose_name="preliminary report written"),
        ),
        migrations.RunPython(split_observation, join_observation),
        migrations.AddConstraint(
            "caselogentry",
            models.CheckConstraint(
                condition=models.Q(primary_operator=True)
                | models.Q(assisted_console=True)
                | models.Q(observed_in_room=True)
                | models.Q(observed_remotely=True)
                | models.Q(interpreted=True)
                | models.Q(preliminary_report=True)
                | models.Q(protocolled=True)
                | models.Q(post_processed=True),
                name="entry_has_a_role",
            ),
        ),
    ]
