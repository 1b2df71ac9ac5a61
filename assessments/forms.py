from django import forms
from django.utils import timezone

from trainingportal.core.text import NOTE_TEXT

from .models import SignOff

# Entries offered on the page, newest first; older ones can be linked through the API.
ENTRY_CHOICES_LIMIT = 300


class SignOffForm(forms.Form):
    """A competency sign-off, or its amendment (then `reason` is required)."""

    signed_on = forms.DateField(label="Observed on", widget=forms.DateInput(attrs={"type": "date"}))
    delivery = forms.ChoiceField(
        label="How you observed it", choices=SignOff.Delivery.choices, widget=forms.RadioSelect
    )
    entrustment_level = forms.TypedChoiceField(label="Entrustment level", coerce=int, widget=forms.RadioSelect)
    evidence_entries = forms.TypedMultipleChoiceField(
        label="Entries of the case log", coerce=int, required=False, widget=forms.SelectMultiple(attrs={"size": 8})
    )
    evidence_sessions = forms.TypedMultipleChoiceField(
        label="Sessions the trainee attended", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        max_length=NOTE_TEXT,
        label="Note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you observed. No patient identifiers.",
    )
    reason = forms.CharField(
        max_length=NOTE_TEXT,
        label="Why the sign-off is corrected",
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the sign-off before and after. No patient identifiers.",
    )

    def __init__(self, *args, framework, competency, entries, sessions, amending: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entrustment_level"].choices = [
            (n, f"{n} — {label}{' (signed off)' if n >= framework.sign_off_level else ''}")
            for n, label in framework.levels
        ]
        self.fields[
            "entrustment_level"
        ].help_text = f"Level {framework.sign_off_level} or above signs the competency off; a lower level is recorded as progress."
        self.fields["evidence_entries"].choices = [
            (
                e.pk,
                f"{e.performed_on:%d %b %Y} · {e.case.reference} · {e.get_delivery_display()}"
                f"{' · ' + e.case.indication if e.case.indication else ''}",
            )
            for e in entries
        ]
        self.fields["evidence_entries"].help_text = (
            "Signed entries, newest first (hold Ctrl or Cmd to choose several)."
            + (" Only in-person entries count for this competency." if competency.in_person_required else "")
        )
        self.fields["evidence_sessions"].choices = [
            (s.pk, f"{timezone.localtime(s.starts_at):%d %b %Y} · {s.title} · {s.get_delivery_display()}")
            for s in sessions
        ]
        # Not optional: a sign-off links at least one entry or one session (checked in clean()).
        self.fields["evidence_entries"].not_optional = True
        self.fields["evidence_sessions"].not_optional = True
        self.fields["evidence_sessions"].help_text = (
            "At least one entry or one session is linked."
            if sessions
            else "No attended sessions of this program"
            + (" in person" if competency.in_person_required else "")
            + ": link entries instead."
        )
        if competency.in_person_required:
            self.fields["delivery"].choices = [(SignOff.Delivery.IN_PERSON, "In person")]
            self.fields["delivery"].help_text = "This competency needs in-person experience (SCMR 2021)."
        if not amending:
            del self.fields["reason"]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("evidence_entries") and not cleaned.get("evidence_sessions") and not self.errors:
            raise forms.ValidationError("Link at least one signed entry or attended session as evidence.")
        return cleaned
