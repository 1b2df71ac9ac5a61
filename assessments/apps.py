from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate

from .framework import all_frameworks


def _sync_frameworks(sender, apps=None, using="default", **kwargs):
    """Write the competency framework files' rows after every `migrate` (like django.contrib.sites' default site):
    sign-offs point at rows, the files stay the source of truth."""
    apps = apps or global_apps  # a flush emits post_migrate without the migration state's apps
    try:
        Competency = apps.get_model("assessments", "Competency")
    except LookupError:  # migrated back before the app's first migration
        return
    if "version" not in {f.name for f in Competency._meta.get_fields()}:
        return  # migrated back before the framework became versioned data
    for framework in all_frameworks().values():
        for item in framework.competencies:
            Competency.objects.using(using).update_or_create(
                framework=framework.id,
                version=framework.version,
                code=item.code,
                defaults={
                    "title": item.title,
                    "in_person_required": item.in_person_required,
                    "position": item.position,
                    "source": item.source,
                    "cites": item.cites,
                },
            )


class AssessmentsConfig(AppConfig):
    name = "assessments"

    def ready(self):
        post_migrate.connect(_sync_frameworks, sender=self, dispatch_uid="assessments.sync_frameworks")
