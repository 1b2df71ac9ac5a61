"""/api/v1/sign-offs/: competency sign-offs, read by the trainee, their mentors and the program director; made and
amended by the mentor or the director (the same services, and so the same rules, as the pages)."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from trainees.selectors import get_enrollment_for_user
from trainingportal.core.api import AccessFunctionMixin
from trainingportal.core.idempotency import idempotent_create

from . import selectors, services
from .framework import current_framework
from .models import SignOff

MAX_IDS = services.MAX_EVIDENCE


class SignOffSerializer(serializers.ModelSerializer):
    competency = serializers.CharField(source="competency.code", read_only=True)
    competency_title = serializers.CharField(source="competency.title", read_only=True)
    framework = serializers.CharField(source="competency.framework", read_only=True)
    framework_version = serializers.IntegerField(source="competency.version", read_only=True)
    in_person_required = serializers.BooleanField(source="competency.in_person_required", read_only=True)
    entrusted = serializers.SerializerMethodField(
        help_text="At or above the framework's sign-off level: signed off. Below it: progress."
    )
    signer_name = serializers.CharField(source="signer.display_name", read_only=True)
    evidence_entries = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    evidence_sessions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    amendments = serializers.SerializerMethodField(help_text="How many times it was amended.")

    class Meta:
        model = SignOff
        fields = [
            "id", "enrollment", "competency", "competency_title", "framework", "framework_version",
            "in_person_required", "signed_on", "delivery", "entrustment_level", "entrusted", "evidence_entries",
            "evidence_sessions", "note", "signer", "signer_name", "recorded_at", "amendments",
        ]  # fmt: skip
        read_only_fields = fields

    def get_entrusted(self, sign_off) -> bool:
        return selectors.is_entrusted(sign_off)

    def get_amendments(self, sign_off) -> int:
        # Annotated by every queryset the API reads (sign_offs_for_user): no query per row.
        return sign_off.amendment_count


class _SignOffValues(serializers.Serializer):
    signed_on = serializers.DateField()
    delivery = serializers.ChoiceField(choices=SignOff.Delivery.choices)
    entrustment_level = serializers.IntegerField(min_value=1, max_value=10)
    evidence_entries = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=MAX_IDS, required=False, default=list
    )
    evidence_sessions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=MAX_IDS, required=False, default=list
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def values(self) -> dict:
        data = self.validated_data
        return {
            "signed_on": data["signed_on"],
            "delivery": data["delivery"],
            "entrustment_level": data["entrustment_level"],
            "entry_ids": data["evidence_entries"],
            "session_ids": data["evidence_sessions"],
            "note": data["note"],
        }


class SignOffCreateSerializer(_SignOffValues):
    enrollment = serializers.IntegerField(min_value=1)
    competency = serializers.SlugField(max_length=60, help_text="A code of the current framework.")


class SignOffAmendSerializer(_SignOffValues):
    reason = serializers.CharField(min_length=10, max_length=2000)


class FrameworkSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.IntegerField()
    title = serializers.CharField()
    sign_off_level = serializers.IntegerField()
    levels = serializers.DictField(child=serializers.CharField())
    competencies = serializers.ListField(child=serializers.DictField())


class SignOffFilter(django_filters.FilterSet):
    # A plain number, not a choice among all enrollments: an unknown id must look like someone else's (no leak).
    enrollment = django_filters.NumberFilter(field_name="enrollment_id")
    competency = django_filters.CharFilter(field_name="competency__code")

    class Meta:
        model = SignOff
        fields = ["enrollment", "competency", "delivery"]


class SignOffViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Competency sign-offs of the enrollments you may see. Mentors of the trainee and the program director sign
    off (once per competency) and amend with a reason; a competency that needs in-person experience refuses a
    virtual sign-off and virtual evidence."""

    serializer_class = SignOffSerializer
    filterset_class = SignOffFilter
    access_function = staticmethod(selectors.get_sign_off_for_user)
    object_action = {"amend": "assess"}
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.sign_offs_for_user(self.request.user).prefetch_related("evidence_entries", "evidence_sessions")

    def _respond(self, sign_off, code=status.HTTP_200_OK):
        sign_off = self.get_queryset().get(pk=sign_off.pk)
        return Response(SignOffSerializer(sign_off, context={"request": self.request}).data, status=code)

    @extend_schema(request=SignOffCreateSerializer, responses={201: SignOffSerializer})
    @idempotent_create
    def create(self, request, *args, **kwargs):
        data = SignOffCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment = get_enrollment_for_user(request.user, data.validated_data["enrollment"], action="assess").obj
        sign_off = services.sign_off_create(
            actor=request.user,
            enrollment=enrollment,
            competency_code=data.validated_data["competency"],
            **data.values(),
        )
        return self._respond(sign_off, status.HTTP_201_CREATED)

    @extend_schema(request=SignOffAmendSerializer, responses=SignOffSerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """Correct a sign-off with a reason; the values before are kept in its amendment record."""
        sign_off = self.get_object()
        data = SignOffAmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sign_off = services.sign_off_amend(
            actor=request.user, sign_off=sign_off, reason=data.validated_data["reason"], **data.values()
        )
        return self._respond(sign_off)

    @extend_schema(responses=FrameworkSerializer)
    @action(detail=False)
    def framework(self, request):
        """The current competency framework: its competencies, the entrustment scale and the sign-off level."""
        framework = current_framework()
        return Response(
            {
                "id": framework.id,
                "version": framework.version,
                "title": framework.title,
                "sign_off_level": framework.sign_off_level,
                "levels": {str(n): label for n, label in framework.levels},
                "competencies": [
                    {"code": c.code, "title": c.title, "delivery": c.delivery, "cites": c.cites}
                    for c in framework.competencies
                ],
            }
        )
