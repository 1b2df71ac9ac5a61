from django import forms

from trainingportal.core.text import NOTE_TEXT

from .models import Credential


class CredentialForm(forms.ModelForm):
    """A CMR credential the user holds: what makes a mentor's sign-off count (rulesets set a minimum level)."""

    # The model's TextField has no length; the form caps what a person can send.
    justification = forms.CharField(
        label="Justification (equivalent expert only)",
        max_length=NOTE_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = Credential
        fields = ["level", "body", "identifier", "issued_on", "justification"]
        widgets = {
            "issued_on": forms.DateInput(attrs={"type": "date"}),
            "justification": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"level": "Level", "justification": "Justification (equivalent expert only)"}

    def clean(self):
        data = super().clean()
        if data.get("level") == Credential.Level.EQ and not (data.get("justification") or "").strip():
            self.add_error("justification", "Say why you are an equivalent CMR expert (training, experience).")
        return data
