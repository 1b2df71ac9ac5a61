from django.db import migrations

# A frozen copy: data migrations must not import code that may change later.
TOPICS = [
    ("safety", "MR safety"),
    ("contrast", "Contrast agents"),
    ("flow", "Flow quantification"),
    ("anatomy", "Cardiac anatomy"),
    ("ventricular-function", "Ventricular function"),
    ("infarction-viability", "Infarction and viability"),
    ("fibrosis-edema", "Fibrosis and edema (tissue characterization)"),
    ("pharmacologic-stress", "Pharmacologic stress perfusion"),
    ("vascular-aorta", "Vascular and aorta"),
    ("valvular", "Valvular disease"),
    ("congenital", "Congenital heart disease"),
    ("cardiomyopathy", "Cardiomyopathy and heart failure"),
    ("arrhythmia", "Arrhythmia"),
    ("pericardial", "Pericardial disease"),
    ("masses", "Cardiac masses"),
]


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    for position, (slug, name) in enumerate(TOPICS):
        Category.objects.update_or_create(slug=slug, defaults={"name": name, "position": position})


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
