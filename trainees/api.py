import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from trainingportal.core.api import AccessFunctionMixin

from . import selectors
from .models import Enrollment
from .progress import RULESET, gather_facts, level2_progress


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
    unit = serializers.CharField()
    required = serializers.FloatField()
    achieved = serializers.FloatField()
    remaining = serializers.FloatField()
    met = serializers.BooleanField()
    percent = serializers.IntegerField()
    source = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField()
    ruleset = serializers.CharField()
    as_of = serializers.DateField()
    requirements = RequirementSerializer(many=True)
    pending_reviews = serializers.IntegerField()


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
        enrollment = self.get_object()
        facts = gather_facts(enrollment)
        today = timezone.localdate()
        return Response(
            {
                "enrollment": enrollment.pk,
                "ruleset": RULESET,
                "as_of": today,
                "requirements": [r.as_dict() for r in level2_progress(facts, today=today)],
                "pending_reviews": facts.pending,
            }
        )
