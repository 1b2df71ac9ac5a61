from django import forms


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("verified", "Verify this trainee"), ("returned", "Return to the program")], widget=forms.RadioSelect
    )
    decision_reasons = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Reasons (required when returning)"
    )
