"""The SCMR program-verification actions of /api/v1/programs/{id}/: checklist, submit (director); take,
request-changes, verify, decline (SCMR reviewer). They extend programs.api.ProgramViewSet, which knows nothing of
verification."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from programs import api as program_api
from programs.selectors import programs_for_user
from programs.services import EDITABLE_STATUSES

from .. import compliance, selectors
from ..models import ProgramReview, ProgramReviewEvent
from ..services import programs as verification

# --- program verification: the S1–S15 checklist, submission and the SCMR reviewer's steps


class ChecklistLineSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="met, not_met or not_evidenced")
    evidence = serializers.CharField()
    blocks_submission = serializers.BooleanField()


class ChecklistSerializer(serializers.Serializer):
    verification_status = serializers.CharField()
    can_submit = serializers.BooleanField()
    lines = ChecklistLineSerializer(many=True)


class ReviewEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.display_name")

    class Meta:
        model = ProgramReviewEvent
        fields = ["action", "actor", "comment", "line_comments", "created_at"]


class ProgramReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.display_name", allow_null=True, default=None)
    status = serializers.CharField(help_text="This round: submitted, changes_requested, verified or declined")
    verification_status = serializers.CharField(source="program.verification_status")
    events = ReviewEventSerializer(many=True, read_only=True)

    class Meta:
        model = ProgramReview
        fields = ["id", "status", "verification_status", "submitted_at", "reviewer", "comments", "decided_at", "events"]


class ReviewDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    line_comments = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)


class DeclineSerializer(ReviewDecisionSerializer):
    comment = serializers.CharField(help_text="The reason for declining.")


class ProgramVerificationActions:
    """Mixed into ProgramViewSet. Access goes through verification.selectors.get_program_for_review."""

    # The access action of each viewset action (AccessFunctionMixin; the access function is get_program_for_review).
    object_action = {
        "checklist": "checklist",
        "submit": "submit",
        "take": "review",
        "request_changes": "review",
        "verify": "review",
        "decline": "review",
    }

    @extend_schema(responses=ChecklistSerializer)
    @action(detail=True)
    def checklist(self, request, pk=None):
        """The S1–S15 checklist (director, SCMR reviewers). Lines `not_met` block submission."""
        program = self.get_object()
        lines = selectors.program_checklist(program)
        data = {
            "verification_status": program.verification_status,
            "can_submit": program.verification_status in EDITABLE_STATUSES and not compliance.blocking_lines(lines),
            "lines": [{**asdict(line), "blocks_submission": line.blocks_submission} for line in lines],
        }
        return Response(ChecklistSerializer(data).data)

    @extend_schema(request=None, responses={201: ProgramReviewSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit to SCMR (director); 400 while a checklist line is not met."""
        program = self.get_object()
        review = verification.program_submit(actor=request.user, program=program)
        return Response(ProgramReviewSerializer(review).data, status=201)

    @extend_schema(request=None, responses=ProgramReviewSerializer)
    @action(detail=True, methods=["post"])
    def take(self, request, pk=None):
        """Take the open review (SCMR reviewer, never one of the program's institution)."""
        program = self.get_object()
        review = verification.review_take(actor=request.user, program=program)
        return Response(ProgramReviewSerializer(review).data)

    def _decide(self, request, decision: str, serializer_class):
        program = self.get_object()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = verification.review_decide(
            actor=request.user,
            program=program,
            decision=decision,
            **serializer.validated_data,
        )
        return Response(ProgramReviewSerializer(review).data)

    @extend_schema(request=ReviewDecisionSerializer, responses=ProgramReviewSerializer)
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        """Send the submission back to the director with a comment or comments per checklist line."""
        return self._decide(request, ProgramReviewEvent.Action.CHANGES_REQUESTED, ReviewDecisionSerializer)

    @extend_schema(request=ReviewDecisionSerializer, responses=ProgramReviewSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Verify the program (SCMR reviewer who took the review)."""
        return self._decide(request, ProgramReviewEvent.Action.VERIFIED, ReviewDecisionSerializer)

    @extend_schema(request=DeclineSerializer, responses=ProgramReviewSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        """Decline the program, with a reason."""
        return self._decide(request, ProgramReviewEvent.Action.DECLINED, DeclineSerializer)


class ProgramViewSet(ProgramVerificationActions, program_api.ProgramViewSet):
    """Programs you belong to; SCMR reviewers also see the programs put before SCMR (never one they belong to or of
    their own institution). Creating a program makes you its director.

    Verification: `checklist`, `submit` (director), `take`, `request-changes`, `verify`, `decline` (SCMR reviewer)."""

    access_function = staticmethod(selectors.get_program_for_review)

    def get_queryset(self):
        mine = programs_for_user(self.request.user)
        reviewable = selectors.programs_for_reviewer(self.request.user)
        return (mine | reviewable).distinct().order_by("name")
