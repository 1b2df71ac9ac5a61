import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from trainingportal.core.api import AccessFunctionMixin

from . import selectors
from .models import Enrollment
from .progress import report_for


class EnrollmentSerializer(serializers.ModelSerializer):
    trainee = serializers.CharField(source="trainee.display_name")
    trainee_email = serializers.EmailField(source="trainee.email")
    program_name = serializers.CharField(source="program.name")

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "trainee",
            "trainee_email",
            "program",
            "program_name",
            "target_level",
            "track",
            "ruleset",
            "start_date",
            "end_date",
            "status",
            "carried_forward_cases",
            "carried_forward_months",
        ]
        read_only_fields = fields


class RequirementSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    short = serializers.CharField(help_text="A short column heading.")
    kind = serializers.CharField()
    unit = serializers.CharField()
    required = serializers.FloatField()
    achieved = serializers.FloatField()
    remaining = serializers.FloatField()
    met = serializers.BooleanField()
    at_most = serializers.BooleanField(help_text="A ceiling (e.g. the virtual share) instead of a minimum.")
    percent = serializers.IntegerField()
    evidence = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the counted entries.")
    forecast = serializers.DateField(allow_null=True, help_text="Projected date at the recent pace.")
    source = serializers.CharField(help_text="Citation key in the ruleset.")
    citation = serializers.CharField()
    confidence = serializers.CharField()
    local = serializers.BooleanField()
    overlay = serializers.BooleanField(help_text="From the SCMR 2021 virtual-training overlay.")
    missing = serializers.CharField()
    detail = serializers.DictField()


class FlagSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["behind_pace", "over_virtual_cap", "reviews_waiting", "missing_in_person", "group_cap"]
    )
    message = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField()
    ruleset = serializers.CharField()
    ruleset_title = serializers.CharField()
    as_of = serializers.DateField()
    all_met = serializers.BooleanField()
    met_count = serializers.IntegerField()
    requirements = RequirementSerializer(many=True)
    missing = serializers.ListField(child=serializers.CharField())
    flags = FlagSerializer(many=True)
    pace_per_week = serializers.FloatField()
    virtual_count = serializers.IntegerField()
    in_person_count = serializers.IntegerField()
    virtual_share = serializers.FloatField(allow_null=True)
    pending_reviews = serializers.IntegerField()
    reviews_waiting_over_7_days = serializers.IntegerField()
    expected_end = serializers.DateField(allow_null=True)
    forecast = serializers.DateField(allow_null=True)


class EnrollmentFilter(django_filters.FilterSet):
    program = django_filters.NumberFilter(field_name="program_id")

    class Meta:
        model = Enrollment
        fields = ["program", "status"]


class EnrollmentViewSet(AccessFunctionMixin, viewsets.ReadOnlyModelViewSet):
    """Enrollments you may see: your own, your mentees', those of programs you direct (reviewers: all)."""

    serializer_class = EnrollmentSerializer
    access_function = staticmethod(selectors.get_enrollment_for_user)
    filterset_class = EnrollmentFilter

    def get_queryset(self):
        return selectors.enrollments_for_user(self.request.user).order_by("id")

    @extend_schema(responses=ProgressSerializer)
    @action(detail=True)
    def progress(self, request, pk=None):
        """Where the trainee stands against their ruleset: the requirement engine's Report."""
        return Response(report_for(self.get_object()).as_dict())
