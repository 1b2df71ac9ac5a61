from django import forms
from django.utils import timezone

from .models import Case, CaseLogEntry, Category

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
        queryset=Category.objects.all(), widget=forms.CheckboxSelectMultiple, label="Curriculum topics"
    )
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, label="Your role", initial=["interpreted"]
    )
    delivery = forms.ChoiceField(
        choices=[c for c in CaseLogEntry.Delivery.choices], initial=CaseLogEntry.Delivery.IN_PERSON
    )
    supervising_mentor = forms.ModelChoiceField(queryset=None, label="Supervising mentor", empty_label=None)
    findings = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Your findings")
    impression = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Your impression")
    key_measurements = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Key measurements",
        help_text="e.g. LVEF 55%, LV EDVi 82 ml/m², T1 1010 ms",
    )

    def __init__(self, *args, mentors, lock_case: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supervising_mentor"].queryset = mentors
        self.fields["performed_on"].initial = timezone.localdate
        if lock_case:
            for name in ("reference", "source", "complete_study", "indication", "categories"):
                self.fields[name].disabled = True

    def entry_fields(self) -> dict:
        data = self.cleaned_data
        roles = set(data["roles"])
        return {
            "performed_on": data["performed_on"],
            **{f: f in roles for f in CaseLogEntry.ROLE_FIELDS},
            "delivery": data["delivery"],
            "supervising_mentor": data["supervising_mentor"],
            "findings": data["findings"],
            "impression": data["impression"],
            "key_measurements": data["key_measurements"],
        }

    def case_fields(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("reference", "source", "complete_study", "indication", "categories")}

    @staticmethod
    def initial_for(entry: CaseLogEntry) -> dict:
        return {
            "reference": entry.case.reference,
            "performed_on": entry.performed_on,
            "source": entry.case.source,
            "complete_study": entry.case.complete_study,
            "indication": entry.case.indication,
            "categories": list(entry.case.categories.all()),
            "roles": [f for f in CaseLogEntry.ROLE_FIELDS if getattr(entry, f)],
            "delivery": entry.delivery,
            "supervising_mentor": entry.supervising_mentor,
            "findings": entry.findings,
            "impression": entry.impression,
            "key_measurements": entry.key_measurements,
        }


class ReviewForm(forms.Form):
    mentor_agrees = forms.TypedChoiceField(
        label="Do you agree with the trainee's read?",
        choices=[("yes", "Agree"), ("partly", "Partly / minor differences"), ("no", "Disagree")],
        widget=forms.RadioSelect,
        coerce=str,
        required=False,
    )
    mentor_feedback = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Feedback")
    returned_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Reason for returning (if you return it)"
    )

    def agrees(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("mentor_agrees"))
