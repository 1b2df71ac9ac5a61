import django_filters
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from trainees.selectors import get_enrollment_for_user
from trainingportal.core.api import AccessFunctionMixin

from .. import selectors
from ..dossier import dossier_response
from ..models import VerificationRequest
from ..services import dossiers as services


class VerificationRequestSerializer(serializers.ModelSerializer):
    trainee = serializers.CharField(source="enrollment.trainee.display_name", read_only=True)
    program = serializers.CharField(source="enrollment.program.name", read_only=True)
    verify_url = serializers.SerializerMethodField()

    class Meta:
        model = VerificationRequest
        fields = [
            "id",
            "enrollment",
            "trainee",
            "program",
            "status",
            "code",
            "verify_url",
            "sha256",
            "size_bytes",
            "page_count",
            "failure_reason",
            "created_at",
            "ready_at",
            "submitted_at",
            "decided_at",
            "decision_reasons",
            "revoked_at",
            "revoked_reason",
        ]
        read_only_fields = fields

    def get_verify_url(self, vr) -> str:
        return reverse("verify", args=[vr.code])


class VerificationRequestCreateSerializer(serializers.Serializer):
    # A plain integer: the access function answers 404 alike for a missing and for someone else's enrollment.
    enrollment = serializers.IntegerField(min_value=1)


class DecisionSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    reasons = serializers.CharField(required=False, allow_blank=True, default="")


class VerificationRequestFilter(django_filters.FilterSet):
    enrollment = django_filters.NumberFilter(field_name="enrollment_id")

    class Meta:
        model = VerificationRequest
        fields = ["status", "enrollment"]


class VerificationRequestViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Verification dossiers. Directors request and submit them; SCMR reviewers download and decide."""

    serializer_class = VerificationRequestSerializer
    access_function = staticmethod(selectors.get_verification_request_for_user)
    object_action = {"dossier": "download", "submit": "submit", "decide": "review"}
    filterset_class = VerificationRequestFilter

    def get_queryset(self):
        return selectors.verification_requests_for_user(self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=VerificationRequestCreateSerializer, responses={202: VerificationRequestSerializer})
    def create(self, request, *args, **kwargs):
        serializer = VerificationRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrollment = get_enrollment_for_user(
            request.user, serializer.validated_data["enrollment"], action="request_verification"
        ).obj
        vr = services.verification_request_create(actor=request.user, enrollment=enrollment)
        return Response(self.get_serializer(vr).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "The dossier PDF")})
    @action(detail=True)
    def dossier(self, request, pk=None):
        return dossier_response(self.get_object())

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        vr = services.verification_request_submit(actor=request.user, vr=self.get_object())
        return Response(self.get_serializer(vr).data)

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        vr = self.get_object()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vr = services.verification_request_decide(actor=request.user, vr=vr, **data.validated_data)
        return Response(self.get_serializer(vr).data)
