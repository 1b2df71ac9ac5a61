"""The curriculum: the 15 SCMR Level I topics that cases, lectures and rulesets refer to."""

from django.db import models


class Category(models.Model):
    """One of the 15 SCMR Level I curriculum topics; the rows come from the data migration cases 0003_seed_curriculum_topics.

    Slugs are stable: rulesets and exports refer to them.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "cases_category"
        ordering = ["position"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name
