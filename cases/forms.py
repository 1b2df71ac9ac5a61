from django import forms
from django.utils import timezone

from curriculum import cmr
from curriculum.selectors import curriculum_topics
from trainingportal.core.text import LONG_TEXT, NOTE_TEXT

from .models import Case, CaseLogEntry

ROLE_CHOICES = [(f, CaseLogEntry._meta.get_field(f).verbose_name.capitalize()) for f in CaseLogEntry.ROLE_FIELDS]


class EntryForm(forms.Form):
    """Case-log entry: the case (pseudonymous) and what the trainee did with it."""

    reference = forms.CharField(
        label="Case reference",
        max_length=40,
        help_text="The pseudonymous study reference from your center's archive or registry — never a name or MRN.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    performed_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(choices=Case.Source.choices, initial=Case.Source.CENTER_ARCHIVE)
    complete_study = forms.BooleanField(label="Complete study", required=False, initial=True)
    indication = forms.CharField(max_length=200, required=False)
    categories = forms.ModelMultipleChoiceField(
        queryset=curriculum_topics(),
        widget=forms.CheckboxSelectMultiple,
        label="Curriculum topics",
        required=False,
        help_text="The diagnosis adds its own topics; tick any others the case covered.",
    )
    diagnosis = forms.ChoiceField(label="Diagnosis", required=False)
    field_strength = forms.ChoiceField(
        label="Field strength", choices=Case.FieldStrength.choices, initial=Case.FieldStrength.T1_5
    )
    vendor = forms.ChoiceField(label="Scanner vendor", required=False, choices=[("", "—"), *Case.Vendor.choices])
    contrast_agent = forms.ChoiceField(label="Contrast", required=False, choices=[("", "—"), *Case.Contrast.choices])
    stress_agent = forms.ChoiceField(label="Stress", required=False, choices=[("", "—"), *Case.Stress.choices])
    stress_supervisor = forms.ModelChoiceField(
        queryset=None, required=False, label="Stress supervised in person by", empty_label="—"
    )
    cardiac_device = forms.ChoiceField(
        label="Cardiac device", required=False, choices=[("", "—"), *Case.Device.choices]
    )
    sedation = forms.ChoiceField(label="Sedation", required=False, choices=[("", "—"), *Case.Sedation.choices])
    congenital = forms.BooleanField(label="Congenital heart disease", required=False)
    paediatric = forms.BooleanField(label="Paediatric patient", required=False)
    sequences = forms.MultipleChoiceField(
        choices=cmr.SEQUENCES, widget=forms.CheckboxSelectMultiple, required=False, label="Sequences"
    )
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, label="Your role", initial=["interpreted"]
    )
    delivery = forms.ChoiceField(
        choices=[c for c in CaseLogEntry.Delivery.choices], initial=CaseLogEntry.Delivery.IN_PERSON
    )
    supervising_mentor = forms.ModelChoiceField(queryset=None, label="Supervising mentor", empty_label=None)
    session = forms.ModelChoiceField(
        queryset=None, required=False, label="Training session", empty_label="— not from a session —"
    )
    lvef = forms.IntegerField(label="LVEF (%)", required=False, min_value=0, max_value=100)
    lv_edvi = forms.IntegerField(label="LV EDV index (ml/m²)", required=False, min_value=0, max_value=400)
    lge_pattern = forms.ChoiceField(
        label="LGE pattern", required=False, choices=[("", "—")] + list(CaseLogEntry.LGEPattern.choices)
    )
    final_diagnosis = forms.CharField(label="Final diagnosis", required=False, max_length=200)
    findings = forms.CharField(
        max_length=LONG_TEXT, widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Your findings"
    )
    impression = forms.CharField(
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Your impression",
        required=False,
        help_text="Your own read comes first: an impression, or the structured fields above.",
    )
    key_measurements = forms.CharField(
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Key measurements",
        help_text="e.g. LVEF 55%, LV EDVi 82 ml/m², T1 1010 ms",
    )

    CASE_FIELDS = ("reference", "source", "complete_study", "indication", "categories", *Case.CLINICAL_FIELDS)

    def __init__(self, *args, mentors, stress_supervisors=None, lock_case: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supervising_mentor"].queryset = mentors
        self.fields["stress_supervisor"].queryset = (
            stress_supervisors if stress_supervisors is not None else mentors.none()
        )
        self.fields["diagnosis"].choices = [("", "— choose —"), *cmr.diagnosis_choices()]
        self.fields["performed_on"].initial = timezone.localdate
        for name in ("lvef", "lv_edvi"):
            self.fields[name].widget.attrs.update({"inputmode": "numeric"})
        if lock_case:
            # The case (the study) is shared by every trainee who logged it: it is not part of the entry.
            for name in self.CASE_FIELDS:
                self.fields[name].disabled = True

    def entry_fields(self) -> dict:
        data = self.cleaned_data
        roles = set(data["roles"])
        return {
            "performed_on": data["performed_on"],
            **CaseLogEntry.role_flags(roles),
            "delivery": data["delivery"],
            "supervising_mentor": data["supervising_mentor"],
            "session": data.get("session"),
            "findings": data["findings"],
            "impression": data["impression"],
            "key_measurements": data["key_measurements"],
            "lvef": data["lvef"],
            "lv_edvi": data["lv_edvi"],
            "lge_pattern": data["lge_pattern"],
            "final_diagnosis": data["final_diagnosis"],
        }

    def case_fields(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in self.CASE_FIELDS}

    @staticmethod
    def initial_for(entry: CaseLogEntry) -> dict:
        return {
            "reference": entry.case.reference,
            "performed_on": entry.performed_on,
            "source": entry.case.source,
            "complete_study": entry.case.complete_study,
            "indication": entry.case.indication,
            "categories": list(entry.case.categories.all()),
            "roles": entry.roles,
            "delivery": entry.delivery,
            "supervising_mentor": entry.supervising_mentor,
            "session": entry.session,
            "findings": entry.findings,
            "impression": entry.impression,
            "key_measurements": entry.key_measurements,
            **{f: getattr(entry.case, f) for f in Case.CLINICAL_FIELDS},
            **{f: getattr(entry, f) for f in CaseLogEntry.READ_FIELDS},
        }

    @staticmethod
    def initial_like(entry: CaseLogEntry) -> dict:
        """`Log another like this`: everything but the case reference and the read."""
        initial = EntryForm.initial_for(entry)
        # What is particular to one study (its diagnosis, stress, device, patient) is not copied either.
        particular = ("diagnosis", "stress_agent", "stress_supervisor", "cardiac_device", "congenital", "paediatric",
                      "sedation")  # fmt: skip
        for name in ("reference", "findings", "impression", "key_measurements", *CaseLogEntry.READ_FIELDS, *particular):
            initial.pop(name, None)
        return initial


AGREEMENT_CHOICES = [("", "—"), ("yes", "Agree"), ("no", "Disagree")]


class MentorReadForm(forms.Form):
    """Blind review: the mentor's own read, before the trainee's read is shown."""

    lvef = forms.IntegerField(label="LVEF (%)", required=False, min_value=0, max_value=100)
    lv_edvi = forms.IntegerField(label="LV EDV index (ml/m²)", required=False, min_value=0, max_value=400)
    lge_pattern = forms.ChoiceField(
        label="LGE pattern", required=False, choices=[("", "—")] + list(CaseLogEntry.LGEPattern.choices)
    )
    final_diagnosis = forms.CharField(label="Final diagnosis", required=False, max_length=200)


class BatchSignForm(forms.Form):
    entries = forms.ModelMultipleChoiceField(queryset=CaseLogEntry.objects.none(), widget=forms.CheckboxSelectMultiple)
    mentor_feedback = forms.CharField(
        label="Feedback for every selected entry",
        initial="Reviewed: I agree with your read.",
        max_length=500,
    )

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entries"].queryset = queryset


class AmendForm(forms.Form):
    reason = forms.CharField(
        max_length=NOTE_TEXT, widget=forms.Textarea(attrs={"rows": 2}), label="Why is the signed entry corrected?"
    )


class GroupReviewForm(forms.Form):
    reference = forms.CharField(label="Case reference", max_length=40)
    performed_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(choices=Case.Source.choices, initial=Case.Source.CENTER_ARCHIVE)
    delivery = forms.ChoiceField(
        choices=CaseLogEntry.Delivery.choices, initial=CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY
    )
    categories = forms.ModelMultipleChoiceField(
        queryset=curriculum_topics(), widget=forms.CheckboxSelectMultiple, label="Curriculum topics"
    )
    enrollments = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Trainees who reviewed it with you"
    )
    teaching_points = forms.CharField(max_length=LONG_TEXT, widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, enrollments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollments"].queryset = enrollments
        self.fields["enrollments"].label_from_instance = lambda e: f"{e.trainee} ({e.program.name})"
        self.fields["performed_on"].initial = timezone.localdate


class ReviewForm(forms.Form):
    mentor_agrees = forms.TypedChoiceField(
        label="Do you agree with the trainee's read?",
        choices=[("yes", "Agree"), ("partly", "Partly / minor differences"), ("no", "Disagree")],
        widget=forms.RadioSelect,
        coerce=str,
        required=False,
    )
    mentor_feedback = forms.CharField(
        max_length=LONG_TEXT, widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Feedback"
    )
    returned_reason = forms.CharField(
        max_length=NOTE_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Reason for returning (if you return it)",
    )

    def __init__(self, *args, read_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        # One agree / disagree choice per structured field the trainee filled in.
        for name in read_fields:
            label = CaseLogEntry._meta.get_field(name).verbose_name
            self.fields[f"agree_{name}"] = forms.ChoiceField(
                label=f"{label[0].upper()}{label[1:]}", choices=AGREEMENT_CHOICES, required=False
            )

    def agrees(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("mentor_agrees"))

    def agreement(self) -> dict[str, bool]:
        return {
            name.removeprefix("agree_"): value == "yes"
            for name, value in self.cleaned_data.items()
            if name.startswith("agree_") and value
        }
