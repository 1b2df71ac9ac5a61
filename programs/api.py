from django.core.exceptions import ValidationError
from rest_framework import mixins, serializers, viewsets

from trainingportal.core.api import AccessFunctionMixin, as_drf_error

from . import selectors, services
from .models import Program


class ProgramSerializer(serializers.ModelSerializer):
    director = serializers.CharField(source="director.display_name", read_only=True)

    class Meta:
        model = Program
        fields = [
            "id",
            "name",
            "institution",
            "director",
            "mode",
            "onsite_training_years",
            "onsite_trainees_trained",
            "track_record_evidence",
            "video_setup_attestation",
            "privacy_attestation",
            "max_virtual_share",
            "interactive_group_cap",
            "ruleset",
            "verification_status",
        ]
        read_only_fields = ["ruleset", "verification_status"]


class ProgramViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Programs you belong to (SCMR reviewers: all programs). Creating a program makes you its director."""

    serializer_class = ProgramSerializer
    access_function = staticmethod(selectors.get_program_for_user)

    def get_queryset(self):
        return selectors.programs_for_user(self.request.user).order_by("name")

    def perform_create(self, serializer):
        try:
            serializer.instance = services.program_create(actor=self.request.user, **serializer.validated_data)
        except ValidationError as exc:
            raise as_drf_error(exc) from exc
