from rest_framework import mixins, serializers, viewsets

from trainingportal.core.api import AccessFunctionMixin

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
            "video_platform",
            "console_sharing_method",
            "display_meets_local_standards",
            "didactic_source",
            "privacy_attestation",
            "max_virtual_share",
            "interactive_group_cap",
            "blind_review",
            "virtual_overlay_all_levels",
            "remote_training_plan_sha256",
            "ruleset",
            "verification_status",
        ]
        # The profile is edited on the profile page (PHI checks, the plan upload); the API reads it.
        read_only_fields = ["ruleset", "verification_status", "remote_training_plan_sha256"]


class ProgramViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Programs you belong to. Creating a program makes you its director."""

    serializer_class = ProgramSerializer
    access_function = staticmethod(selectors.get_program_for_user)

    def get_queryset(self):
        return selectors.programs_for_user(self.request.user).order_by("name")

    def perform_create(self, serializer):
        serializer.instance = services.program_create(actor=self.request.user, **serializer.validated_data)
