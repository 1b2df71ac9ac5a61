from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from programs.selectors import get_program_for_user
from trainees.selectors import active_enrollment_in_program
from trainingportal.core.api import AccessFunctionMixin
from trainingportal.core.idempotency import idempotent_create

from . import selectors, services
from .models import Attendance, TrainingSession


class AttendanceSerializer(serializers.ModelSerializer):
    trainee = serializers.CharField(source="enrollment.trainee.display_name", read_only=True)

    class Meta:
        model = Attendance
        fields = ["id", "enrollment", "trainee", "joined_at", "left_at", "active_input", "active_input_note"]
        read_only_fields = fields


class _LinkOrNull(serializers.URLField):
    """A session without a video link answers null, not "" (which is not a URI)."""

    def to_representation(self, value):
        return value or None


class SessionSerializer(serializers.ModelSerializer):
    mentor_name = serializers.CharField(source="mentor.display_name", read_only=True)
    link = _LinkOrNull(read_only=True, allow_null=True, help_text="The video link; null when there is none.")
    attendee_count = serializers.IntegerField(read_only=True)
    group_limit = serializers.SerializerMethodField(help_text="Places in all (cap or capacity); null: no limit.")

    class Meta:
        model = TrainingSession
        fields = [
            "id",
            "program",
            "type",
            "delivery",
            "title",
            "mentor",
            "mentor_name",
            "starts_at",
            "duration_minutes",
            "capacity",
            "link",
            "console_shared",
            "console_shared_at",
            "attendee_count",
            "group_limit",
        ]
        read_only_fields = fields

    def get_group_limit(self, session) -> int | None:
        return selectors.group_limit(session)


class SessionDetailSerializer(SessionSerializer):
    attendances = AttendanceSerializer(
        many=True,
        read_only=True,
        help_text="The rows you may read: a trainee their own, a mentor their trainees', the session's mentor and the "
        "director all (attendee_count counts every trainee).",
    )

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "attendances"]
        read_only_fields = fields


class SessionCreateSerializer(serializers.Serializer):
    # Plain ids, resolved through the access rules: the program by get_program_for_user (404 for outsiders),
    # the mentor by session_create (a mentor of that program or its director).
    program = serializers.IntegerField(min_value=1)
    type = serializers.ChoiceField(choices=TrainingSession.Type.choices)
    delivery = serializers.ChoiceField(choices=TrainingSession.Delivery.choices)
    title = serializers.CharField(max_length=200)
    mentor = serializers.IntegerField(min_value=1, help_text="A mentor of the program, or its director (user id).")
    starts_at = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
    capacity = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    link = serializers.URLField(required=False, allow_blank=True, default="", max_length=200)


class SessionViewSet(AccessFunctionMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Training sessions of the programs you belong to, with their attendance. Mentors and directors create
    sessions; trainees sign up with `attend` (interactive types are capped per mentor by the program's group cap;
    live acquisition needs the MR-safety module done)."""

    serializer_class = SessionSerializer
    access_function = staticmethod(selectors.get_session_for_user)
    object_action = {"attend": "attend"}

    def get_queryset(self):
        qs = selectors.sessions_for_user(self.request.user).order_by("-starts_at", "-id")
        if self.action == "retrieve" and not getattr(self, "swagger_fake_view", False):
            qs = qs.prefetch_related(self._visible_attendances())
        return qs

    def _visible_attendances(self) -> Prefetch:
        # Only the rows the user may read (their own, their trainees', all for the leader); attendee_count counts all.
        return Prefetch("attendances", queryset=selectors.visible_attendances(self.request.user))

    def get_object(self):
        session = super().get_object()
        if self.action == "retrieve":
            session = self.get_queryset().get(pk=session.pk)
        return session

    def get_serializer_class(self):
        return SessionDetailSerializer if self.action == "retrieve" else SessionSerializer

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionDetailSerializer})
    @idempotent_create
    def create(self, request, *args, **kwargs):
        data = SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        # Through the access function: outsiders get 404, trainees 403.
        program, _ = get_program_for_user(request.user, fields.pop("program"), action="lead_sessions")
        session = services.session_create(actor=request.user, program=program, **fields)
        return self._respond(session, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SessionDetailSerializer})
    @action(detail=True, methods=["post"])
    def attend(self, request, pk=None):
        """Sign yourself up (trainees). Refused with a message when the session is full or, for live
        acquisition, when the MR-safety module is not done yet. Signing up twice is harmless."""
        session = self.get_object()
        enrollment = active_enrollment_in_program(request.user, session.program_id)
        if enrollment is None:
            raise PermissionDenied("You need an active enrollment in this program to sign up.")
        services.attendance_add(actor=request.user, session=session, enrollment=enrollment)
        return self._respond(session)

    def _respond(self, session, code=status.HTTP_200_OK):
        fresh = (
            selectors.sessions_for_user(self.request.user)
            .prefetch_related(self._visible_attendances())
            .get(pk=session.pk)
        )
        return Response(SessionDetailSerializer(fresh, context={"request": self.request}).data, status=code)
