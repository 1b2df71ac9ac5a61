from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from trainees.selectors import get_enrollment_for_user
from trainingportal.core.api import AccessFunctionMixin
from trainingportal.core.idempotency import idempotent_create

from .. import selectors
from ..dossier import dossier_response
from ..filters import DossierFilter
from ..models import ReviewNote, VerificationRequest
from ..services import dossiers as services
from ..services import notes as note_services


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


class ReviewNoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.display_name", read_only=True)

    class Meta:
        model = ReviewNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


@extend_schema_view(
    list=extend_schema(
        description="Dossiers of your own enrollments, of the programs you direct and, for SCMR reviewers, the "
        "review queue (never a program you belong to or of your own institution, whatever the filters). Newest "
        "first; `?ordering=submitted_at` lists the oldest submission first, as the reviewer's queue page does."
    )
)
class VerificationRequestViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Verification dossiers. Directors request and submit them; SCMR reviewers take, annotate, download and
    decide."""

    serializer_class = VerificationRequestSerializer
    access_function = staticmethod(selectors.get_verification_request_for_user)
    object_action = {"dossier": "download", "submit": "submit", "take": "take", "decide": "review", "notes": "notes"}
    filterset_class = DossierFilter
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    ordering_fields = ["submitted_at", "created_at"]

    def get_queryset(self):
        return selectors.verification_requests_for_user(self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=VerificationRequestCreateSerializer, responses={202: VerificationRequestSerializer})
    @idempotent_create
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

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        vr = services.verification_request_take(actor=request.user, vr=self.get_object())
        return Response(self.get_serializer(vr).data)

    @extend_schema(
        methods=["GET"], responses=ReviewNoteSerializer(many=True), description="SCMR reviewers' notes, oldest first."
    )
    @extend_schema(
        methods=["POST"],
        request=ReviewNoteSerializer,
        responses={201: ReviewNoteSerializer},
        description="Append a note (never edited later; no patient identifiers). SCMR reviewers only.",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def notes(self, request, pk=None):
        access = self.get_access()
        if request.method == "POST":
            data = ReviewNoteSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            note = note_services.review_note_add(actor=request.user, vr=access.obj, text=data.validated_data["text"])
            return Response(ReviewNoteSerializer(note).data, status=status.HTTP_201_CREATED)
        return Response(ReviewNoteSerializer(selectors.review_notes(access), many=True).data)

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        vr = self.get_object()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vr = services.verification_request_decide(actor=request.user, vr=vr, **data.validated_data)
        return Response(self.get_serializer(vr).data)
