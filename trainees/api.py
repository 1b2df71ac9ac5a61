import django_filters
from rest_framework import serializers, viewsets

from trainingportal.core.api import AccessFunctionMixin

from . import selectors
from .models import Enrollment


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


class EnrollmentFilter(django_filters.FilterSet):
    program = django_filters.NumberFilter(field_name="program_id")

    class Meta:
        model = Enrollment
        fields = ["program", "status"]


class EnrollmentViewSet(AccessFunctionMixin, viewsets.ReadOnlyModelViewSet):
    """Enrollments you may see: your own, your mentees', those of programs you direct."""

    serializer_class = EnrollmentSerializer
    access_function = staticmethod(selectors.get_enrollment_for_user)
    filterset_class = EnrollmentFilter

    def get_queryset(self):
        return selectors.enrollments_for_user(self.request.user).order_by("id")
