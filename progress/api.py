from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from trainees import api as trainee_api

from .selectors.reports import report_for


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


class EnrollmentViewSet(trainee_api.EnrollmentViewSet):
    """Enrollments you may see: your own, your mentees', those of programs you direct; `progress` is where the
    trainee stands against their ruleset."""

    @extend_schema(responses=ProgressSerializer)
    @action(detail=True)
    def progress(self, request, pk=None):
        """Where the trainee stands against their ruleset: the requirement engine's Report."""
        return Response(report_for(self.get_object()).as_dict())
