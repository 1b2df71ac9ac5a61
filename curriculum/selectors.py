from django.db.models import QuerySet

from .models import Category


def curriculum_topics() -> QuerySet[Category]:
    """The curriculum topics in their SCMR order (the same for everyone)."""
    return Category.objects.order_by("position")


def topic_rows() -> list[tuple[int, str, str]]:
    """(id, slug, name) of every topic, in order."""
    return list(curriculum_topics().values_list("id", "slug", "name"))
