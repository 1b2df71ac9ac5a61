from django.db import migrations

# SCMR 2021 virtual statement: stress testing and the supervision of patients with cardiac implantable electronic
# devices may need in-person experience. A frozen copy: data migrations must not import code that may change.
COMPETENCIES = [
    ("stress-testing", "Pharmacologic stress testing: patient supervision and safety", True),
    ("cied-scanning", "Scanning patients with cardiac implantable electronic devices", True),
    ("mr-safety-screening", "MR safety screening of patients and staff", False),
]


def seed(apps, schema_editor):
    Competency = apps.get_model("assessments", "Competency")
    for code, title, in_person in COMPETENCIES:
        Competency.objects.update_or_create(
            framework="scmr-2018", code=code, defaults={"title": title, "in_person_required": in_person}
        )


class Migration(migrations.Migration):
    dependencies = [("assessments", "0002_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
