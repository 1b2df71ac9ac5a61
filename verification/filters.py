"""Filters of the SCMR reviewers' dossier queue, done in the database, shared by the page and the API list.

Filters narrow a queryset that is already scoped to the user (verification.selectors): whatever the filter, a dossier
the user may not see (a conflicted program's, for a reviewer) is not in it to begin with.
"""

import django_filters
from django import forms
from django.db.models import Q

from programs.models import Program
from trainees.models import Enrollment
from trainingportal.engine import list_rulesets

from .models import VerificationRequest

Status = VerificationRequest.Status

OPEN = [Status.SUBMITTED, Status.UNDER_REVIEW]
DECIDED = [Status.VERIFIED, Status.RETURNED, Status.REVOKED]
STATUS_GROUPS = {"open": OPEN, "decided": DECIDED}

REVIEW_STATUS_CHOICES = [
    ("open", "Waiting"),  # submitted or under review
    (Status.SUBMITTED, "Submitted, not taken"),
    (Status.UNDER_REVIEW, "Under review"),
    ("decided", "Decided"),  # verified, returned or revoked
]


def _ruleset_choices():
    return [(r.id, r.title) for r in list_rulesets()]


class _QueueFilters(django_filters.FilterSet):
    """What the reviewer's queue page and the API list share."""

    assigned = django_filters.ChoiceFilter(
        choices=[("mine", "Taken by me"), ("unassigned", "Not taken yet")],
        method="filter_assigned",
        empty_label="Anyone",
        label="Reviewer",
        help_text="`mine`: dossiers the requesting reviewer has taken or decided; `unassigned`: no reviewer yet.",
    )
    level = django_filters.ChoiceFilter(
        field_name="enrollment__target_level", choices=Enrollment.Level.choices, empty_label="Any level", label="Level"
    )
    ruleset = django_filters.ChoiceFilter(
        field_name="enrollment__ruleset", choices=_ruleset_choices, empty_label="Any ruleset", label="Ruleset"
    )
    mode = django_filters.ChoiceFilter(
        field_name="enrollment__program__mode",
        choices=Program.Mode.choices,
        empty_label="Any mode",
        label="Program mode",
    )
    submitted_after = django_filters.DateFilter(
        field_name="submitted_at",
        lookup_expr="date__gte",
        label="Submitted on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A date (YYYY-MM-DD), inclusive.",
    )
    submitted_before = django_filters.DateFilter(
        field_name="submitted_at",
        lookup_expr="date__lte",
        label="Submitted on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="A date (YYYY-MM-DD), inclusive.",
    )
    q = django_filters.CharFilter(
        method="filter_text",
        label="Program or code",
        widget=forms.TextInput(attrs={"placeholder": "Program name or code"}),
        help_text="Part of the program's name, or of the dossier's verification code (any case).",
    )

    class Meta:
        model = VerificationRequest
        fields = ["status", "assigned", "level", "ruleset", "mode", "submitted_after", "submitted_before", "q"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(status__in=STATUS_GROUPS.get(value, [value]))

    def filter_assigned(self, queryset, name, value):
        if value == "unassigned":
            return queryset.filter(reviewer__isnull=True)
        user = getattr(self.request, "user", None)
        return queryset.filter(reviewer=user) if user is not None and user.is_authenticated else queryset.none()

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(enrollment__program__name__icontains=value) | Q(code__icontains=value))


class ReviewQueueFilter(_QueueFilters):
    """The reviewer's queue page: the statuses a reviewer works with; waiting dossiers unless asked otherwise."""

    status = django_filters.ChoiceFilter(
        choices=REVIEW_STATUS_CHOICES, method="filter_status", empty_label="Any status", label="Status"
    )

    def __init__(self, data=None, *args, **kwargs):
        if data is None or "status" not in data:
            data = data.copy() if data is not None else {}
            data["status"] = "open"
        super().__init__(data, *args, **kwargs)


class DossierFilter(_QueueFilters):
    """The API list: every status (directors follow their own dossiers with it) and the reviewer's groups."""

    status = django_filters.ChoiceFilter(
        choices=[*Status.choices, ("open", "Submitted or under review"), ("decided", "Verified, returned or revoked")],
        method="filter_status",
        help_text="A status, or `open` (submitted or under review), or `decided` (verified, returned or revoked).",
    )
    # A plain number, not a choice among all enrollments: an unknown id must look like someone else's (no leak).
    enrollment = django_filters.NumberFilter(field_name="enrollment_id")

    class Meta(_QueueFilters.Meta):
        fields = [*_QueueFilters.Meta.fields, "enrollment"]
