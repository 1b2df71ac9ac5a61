from django import forms
from django.contrib.auth import get_user_model, password_validation

from .models import Membership, Program


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = [
            "name",
            "institution",
            "mode",
            "onsite_training_years",
            "onsite_trainees_trained",
            "track_record_evidence",
            "video_setup_attestation",
            "privacy_attestation",
            "max_virtual_share",
            "interactive_group_cap",
        ]
        widgets = {
            "track_record_evidence": forms.Textarea(attrs={"rows": 3}),
            "video_setup_attestation": forms.Textarea(attrs={"rows": 3}),
        }


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(
        choices=[(Membership.Role.MENTOR, "Mentor"), (Membership.Role.TRAINEE, "Trainee")], widget=forms.RadioSelect
    )
    mentor = forms.ModelChoiceField(
        queryset=None, required=False, label="Supervising mentor (trainees only)", empty_label="— none yet —"
    )

    def __init__(self, *args, mentors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mentor"].queryset = mentors


class AssignMentorForm(forms.Form):
    mentor = forms.ModelChoiceField(queryset=None, label="Add a mentor")

    def __init__(self, *args, mentors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mentor"].queryset = mentors


class InvitationSignUpForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your full name")
    password1 = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), label="Password")
    password2 = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), label="Password again"
    )

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            user = get_user_model()(email=self.email, full_name=data.get("full_name", ""))
            try:
                password_validation.validate_password(data["password1"], user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data
