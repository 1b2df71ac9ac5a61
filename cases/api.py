import django_filters
from django.db.models import Count
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from curriculum import cmr
from curriculum.selectors import curriculum_topics
from trainees.selectors import active_enrollment_for_trainee
from trainingportal.core.api import AccessFunctionMixin
from trainingportal.core.idempotency import idempotent_create
from trainingportal.core.text import NOTE_TEXT, StrictCharField

from . import selectors, services
from .models import Case, CaseLogEntry

ROLE_CHOICES = CaseLogEntry.ROLE_FIELDS
DIAGNOSIS_CHOICES = [(d.code, d.label) for d in cmr.diagnoses()]
# What the study was: stored on the case, shared by every trainee who logs the same reference (first values kept).
CLINICAL_FIELDS = Case.CLINICAL_FIELDS
CASE_FIELDS = ("reference", "source", "complete_study", "indication", "categories", *CLINICAL_FIELDS)


def _blank_choices(model, fields) -> dict:
    """Read-only choice fields that may be "" (not recorded): DRF drops allow_blank from read-only fields, and then
    the schema's enum would not list the "" these fields return."""
    return {
        f.name: {"allow_blank": True} for f in model._meta.fields if f.choices and f.blank and f.name in set(fields)
    }


def _case_choice(name: str, choices, **kwargs):
    # allow_blank: "" (not recorded) is a value these fields return, so the schema lists it.
    return serializers.ChoiceField(source=f"case.{name}", choices=choices, read_only=True, allow_blank=True, **kwargs)


class CaseLogEntrySerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="case.reference", read_only=True)
    source = serializers.CharField(source="case.source", read_only=True)
    complete_study = serializers.BooleanField(source="case.complete_study", read_only=True)
    indication = serializers.CharField(source="case.indication", read_only=True)
    categories = serializers.SerializerMethodField()
    field_strength = _case_choice("field_strength", Case.FieldStrength.choices)
    vendor = _case_choice("vendor", Case.Vendor.choices, help_text='"" when not recorded.')
    contrast_agent = _case_choice("contrast_agent", Case.Contrast.choices, help_text='"" when not recorded.')
    stress_agent = _case_choice("stress_agent", Case.Stress.choices, help_text='"" when not recorded.')
    stress_supervisor = serializers.IntegerField(
        source="case.stress_supervisor_id",
        read_only=True,
        allow_null=True,
        help_text="Who supervised the stress in person (user id).",
    )
    cardiac_device = _case_choice("cardiac_device", Case.Device.choices, help_text='"" when not recorded.')
    congenital = serializers.BooleanField(source="case.congenital", read_only=True)
    paediatric = serializers.BooleanField(source="case.paediatric", read_only=True)
    sedation = _case_choice("sedation", Case.Sedation.choices, help_text='"" when not recorded.')
    sequences = serializers.ListField(
        source="case.sequences", child=serializers.ChoiceField(choices=cmr.SEQUENCES), read_only=True
    )
    diagnosis = _case_choice("diagnosis", DIAGNOSIS_CHOICES, help_text='A code of the diagnosis taxonomy; "" if none.')
    diagnosis_taxonomy = serializers.CharField(
        source="case.diagnosis_taxonomy", read_only=True, help_text="The taxonomy version the diagnosis is coded in."
    )
    technique_tags = serializers.ListField(
        source="case.technique_tags",
        child=serializers.CharField(),
        read_only=True,
        help_text="Legacy free-text techniques of entries logged before `sequences`; read-only.",
    )
    roles = serializers.SerializerMethodField()
    trainee = serializers.EmailField(source="enrollment.trainee.email", read_only=True)
    amendments = serializers.SerializerMethodField(help_text="How many amendments the entry has.")

    class Meta:
        model = CaseLogEntry
        fields = [
            "id",
            "enrollment",
            "trainee",
            "reference",
            "source",
            "complete_study",
            "indication",
            "categories",
            *CLINICAL_FIELDS,
            "diagnosis_taxonomy",
            "technique_tags",
            "performed_on",
            "roles",
            "delivery",
            "session",
            "supervising_mentor",
            "findings",
            "impression",
            "key_measurements",
            "lvef",
            "lv_edvi",
            "lge_pattern",
            "final_diagnosis",
            "status",
            "submitted_at",
            "mentor_feedback",
            "mentor_agrees",
            "agreement",
            "signed_at",
            "signed_by",
            "returned_reason",
            "amendments",
        ]
        read_only_fields = fields
        extra_kwargs = _blank_choices(CaseLogEntry, fields)

    # The case's coded diagnosis is the logging trainee's conclusion too: the blind review page does not show it.
    BLINDED = ("findings", "impression", "key_measurements", *CaseLogEntry.READ_FIELDS, "diagnosis")

    def to_representation(self, entry):
        data = super().to_representation(entry)
        request = self.context.get("request")
        if request is not None and entry.read_hidden_from(request.user):
            # Blind review: the mentor sees the trainee's read only after recording their own (mentor-read action).
            for name in self.BLINDED:
                data[name] = None
        return data

    def get_amendments(self, entry) -> int:
        count = getattr(entry, "amendment_count", None)  # annotated on lists, so that they stay one query
        return entry.amendments.count() if count is None else count

    def get_categories(self, entry) -> list[str]:
        return [c.slug for c in entry.case.categories.all()]

    def get_roles(self, entry) -> list[str]:
        return entry.roles


class EntryWriteFieldsSerializer(serializers.Serializer):
    performed_on = serializers.DateField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ROLE_CHOICES), allow_empty=False)
    delivery = serializers.ChoiceField(choices=CaseLogEntry.Delivery.choices)
    # Plain ids: cases.services resolves them through the access rules (the same answer as the form and the import).
    supervising_mentor = serializers.IntegerField(help_text="One of your mentors (user id).")
    findings = StrictCharField(required=False, allow_blank=True, default="")
    impression = StrictCharField()
    key_measurements = StrictCharField(required=False, allow_blank=True, default="")
    lvef = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=100)
    lv_edvi = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=400)
    lge_pattern = serializers.ChoiceField(
        choices=CaseLogEntry.LGEPattern.choices, required=False, allow_blank=True, default=""
    )
    final_diagnosis = StrictCharField(required=False, allow_blank=True, default="", max_length=200)
    session = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A training session of your program (id)."
    )
    submit = serializers.BooleanField(required=False, default=False, help_text="Submit for review right away.")

    def entry_fields(self) -> dict:
        data = dict(self.validated_data)
        data.pop("submit", None)
        roles = set(data.pop("roles"))
        return {**data, **CaseLogEntry.role_flags(roles)}


class EntryCreateSerializer(EntryWriteFieldsSerializer):
    reference = StrictCharField(max_length=40)
    source = serializers.ChoiceField(choices=Case.Source.choices, default=Case.Source.CENTER_ARCHIVE)
    complete_study = serializers.BooleanField(default=True)
    indication = StrictCharField(required=False, allow_blank=True, default="")
    categories = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=curriculum_topics(),
        many=True,
        required=False,
        default=list,
        help_text="Curriculum topic slugs; the diagnosis adds its own topics, so they may be left out with one.",
    )
    # The case's clinical fields. "" (or false, or []) means not recorded; a case logged before keeps its values.
    field_strength = serializers.ChoiceField(choices=Case.FieldStrength.choices, default=Case.FieldStrength.T1_5)
    vendor = serializers.ChoiceField(choices=Case.Vendor.choices, required=False, allow_blank=True, default="")
    contrast_agent = serializers.ChoiceField(
        choices=Case.Contrast.choices, required=False, allow_blank=True, default=""
    )
    stress_agent = serializers.ChoiceField(choices=Case.Stress.choices, required=False, allow_blank=True, default="")
    stress_supervisor = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A mentor or the director of your program (user id) who supervised the stress in person; "
        "required for a live-scan stress study.",
    )
    cardiac_device = serializers.ChoiceField(choices=Case.Device.choices, required=False, allow_blank=True, default="")
    congenital = serializers.BooleanField(required=False, default=False)
    paediatric = serializers.BooleanField(required=False, default=False)
    sedation = serializers.ChoiceField(choices=Case.Sedation.choices, required=False, allow_blank=True, default="")
    sequences = serializers.ListField(
        child=serializers.ChoiceField(choices=cmr.SEQUENCES),
        required=False,
        default=list,
        help_text='e.g. ["cine", "lge"]',
    )
    diagnosis = serializers.ChoiceField(
        choices=DIAGNOSIS_CHOICES,
        required=False,
        allow_blank=True,
        default="",
        help_text=f"A code of the diagnosis taxonomy ({cmr.TAXONOMY_VERSION}).",
    )

    def validate(self, attrs):
        # The free-text techniques are read-only now: refuse them rather than drop them without a word.
        if "technique_tags" in self.initial_data:
            raise serializers.ValidationError(
                {"technique_tags": "technique_tags is read-only: send the sequences (codes from the list) instead."}
            )
        return attrs

    def case_fields(self) -> dict:
        return {name: self.validated_data[name] for name in CASE_FIELDS}

    def entry_fields(self) -> dict:
        fields = super().entry_fields()
        for name in CASE_FIELDS:
            fields.pop(name, None)
        return fields


class SignSerializer(serializers.Serializer):
    feedback = StrictCharField()
    agrees = serializers.BooleanField(allow_null=True, required=False, default=None)
    agreement = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        default=dict,
        help_text='Per read field, e.g. {"lvef": true, "lge_pattern": false}; defaults to the comparison with '
        "the mentor's own read.",
    )


class MentorReadSerializer(serializers.Serializer):
    lvef = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=100)
    lv_edvi = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=400)
    lge_pattern = serializers.ChoiceField(
        choices=CaseLogEntry.LGEPattern.choices, required=False, allow_blank=True, default=""
    )
    final_diagnosis = StrictCharField(required=False, allow_blank=True, default="", max_length=200)


class SignBatchSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, max_length=200)
    feedback = StrictCharField(max_length=500)


class SignBatchResultSerializer(serializers.Serializer):
    signed = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.DictField())


class AmendSerializer(EntryWriteFieldsSerializer):
    """An amendment corrects what the trainee did and read; the session an entry came from is not amendable."""

    session = None  # removes the inherited field: not part of an amendment's request
    reason = StrictCharField(max_length=NOTE_TEXT)

    def entry_fields(self) -> dict:
        fields = super().entry_fields()
        fields.pop("reason", None)
        return fields


class ReturnSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=NOTE_TEXT)


class CaseLogFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="performed_on", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="performed_on", lookup_expr="lte")
    category = django_filters.CharFilter(field_name="case__categories__slug")
    role = django_filters.ChoiceFilter(choices=[(r, r) for r in ROLE_CHOICES], method="filter_role")
    # A plain number, not a choice among all enrollments: an unknown id must look like someone else's (no leak).
    enrollment = django_filters.NumberFilter(field_name="enrollment_id")

    class Meta:
        model = CaseLogEntry
        fields = ["status", "delivery", "enrollment"]

    def filter_role(self, queryset, name, value):
        return queryset.filter(**{value: True})


class CaseLogViewSet(
    AccessFunctionMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Case-log entries. Trainees create and edit their own drafts; supervising mentors sign or return them."""

    serializer_class = CaseLogEntrySerializer
    filterset_class = CaseLogFilter
    access_function = staticmethod(selectors.get_entry_for_user)
    object_action = {
        "update": "edit",
        "partial_update": "edit",
        "submit": "submit",
        "sign": "review",
        "return_entry": "review",
        "amend": "amend",
        "mentor_read": "review",
    }
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return (
            selectors.entries_for_user(self.request.user)
            .annotate(amendment_count=Count("amendments"))
            .order_by("-performed_on", "-id")
        )

    def _respond(self, entry, code=status.HTTP_200_OK):
        entry = selectors.get_entry_for_user(self.request.user, entry.pk).obj
        return Response(CaseLogEntrySerializer(entry, context={"request": self.request}).data, status=code)

    @extend_schema(
        request=EntryCreateSerializer,
        responses={201: CaseLogEntrySerializer},
        examples=[
            OpenApiExample(
                "A mentored interpretation, submitted for review",
                request_only=True,
                value={
                    "reference": "NB-2026-0142",
                    "source": "center_archive",
                    "categories": ["ventricular-function"],
                    "diagnosis": "dcm",
                    "field_strength": "3T",
                    "vendor": "siemens",
                    "contrast_agent": "gbca_macrocyclic",
                    "stress_agent": "none",
                    "cardiac_device": "none",
                    "sequences": ["cine", "lge", "t1_mapping", "ecv"],
                    "performed_on": "2026-11-20",
                    "roles": ["interpreted"],
                    "delivery": "virtual_live_two_way",
                    "supervising_mentor": 7,
                    "lvef": 34,
                    "lv_edvi": 121,
                    "lge_pattern": "mid_wall",
                    "final_diagnosis": "Dilated cardiomyopathy",
                    "impression": "Non-ischaemic dilated cardiomyopathy with septal mid-wall fibrosis.",
                    "submit": True,
                },
            )
        ],
    )
    @idempotent_create
    def create(self, request, *args, **kwargs):
        enrollment = active_enrollment_for_trainee(request.user)
        if enrollment is None:
            raise PermissionDenied("Only trainees with an active enrollment log cases.")
        data = EntryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.entry_create(
            actor=request.user,
            enrollment=enrollment,
            submit=data.validated_data["submit"],
            **data.case_fields(),
            **data.entry_fields(),
        )
        return self._respond(entry, status.HTTP_201_CREATED)

    @extend_schema(request=EntryWriteFieldsSerializer, responses=CaseLogEntrySerializer)
    def update(self, request, *args, **kwargs):
        entry = self.get_object()
        data = EntryWriteFieldsSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        fields = (
            data.entry_fields()
            if "roles" in data.validated_data
            else {k: v for k, v in data.validated_data.items() if k != "submit"}
        )
        entry = services.entry_update(
            actor=request.user, entry=entry, submit=data.validated_data.get("submit", False), **fields
        )
        return self._respond(entry)

    @extend_schema(request=None, responses=CaseLogEntrySerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        entry = services.entry_submit(actor=request.user, entry=self.get_object())
        return self._respond(entry)

    @extend_schema(request=SignSerializer, responses=CaseLogEntrySerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        entry = self.get_object()
        data = SignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.entry_sign(
            actor=request.user,
            entry=entry,
            feedback=data.validated_data["feedback"],
            agrees=data.validated_data["agrees"],
            agreement=data.validated_data["agreement"],
        )
        return self._respond(entry)

    @extend_schema(request=ReturnSerializer, responses=CaseLogEntrySerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_entry(self, request, pk=None):
        entry = self.get_object()
        data = ReturnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.entry_return(actor=request.user, entry=entry, reason=data.validated_data["reason"])
        return self._respond(entry)

    @extend_schema(
        request=SignBatchSerializer,
        responses=SignBatchResultSerializer,
        examples=[
            OpenApiExample(
                "Sign three entries", request_only=True, value={"ids": [101, 102, 103], "feedback": "Agree."}
            ),
            OpenApiExample(
                "One was signed by someone else meanwhile",
                response_only=True,
                value={"signed": [101, 103], "skipped": [{"id": 102, "reason": "This entry is signed now."}]},
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="sign-batch")
    def sign_batch(self, request):
        """Sign several entries of your review inbox with one feedback; ids not in your inbox are skipped."""
        data = SignBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        entries = selectors.reviewable_entries(request.user, ids)
        signed, skipped = services.entries_sign_batch(
            actor=request.user, entries=entries, feedback=data.validated_data["feedback"]
        )
        found = {e.pk for e in entries}
        not_reviewable = [{"id": i, "reason": "not in your review inbox"} for i in ids if i not in found]
        return Response(
            {
                "signed": [e.pk for e in signed],
                "skipped": [{"id": e.pk, "reason": reason} for e, reason in skipped] + not_reviewable,
            }
        )

    @extend_schema(request=AmendSerializer, responses=CaseLogEntrySerializer)
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """Correct a signed entry with a reason; the original is kept. A trainee's correction is re-reviewed."""
        entry = self.get_object()
        data = AmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.entry_amend(
            actor=request.user, entry=entry, reason=data.validated_data["reason"], **data.entry_fields()
        )
        return self._respond(entry)

    @extend_schema(request=MentorReadSerializer, responses=CaseLogEntrySerializer)
    @action(detail=True, methods=["post"], url_path="mentor-read")
    def mentor_read(self, request, pk=None):
        """Blind review: record your own structured read; the trainee's read is then shown and compared."""
        entry = self.get_object()
        data = MentorReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.entry_record_mentor_read(actor=request.user, entry=entry, **data.validated_data)
        return self._respond(entry)
