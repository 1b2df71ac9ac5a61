from django import forms

from assessments.models import FinalDetermination
from programs.models import Program
from programs.services import PROFILE_FIELDS
from trainingportal.accounts.models import Credential
from trainingportal.core.text import LONG_TEXT, NOTE_TEXT
from trainingportal.engine import list_rulesets

from . import compliance
from .models import ProgramReviewEvent


def _ruleset_choices():
    return [(r.id, f"{r.title} ({r.id})") for r in list_rulesets()]


class ProgramProfileForm(forms.ModelForm):
    """The director's profile (S1–S14), the Level III credential and the remote training plan, saved together.

    A ModelForm for the labels and validators only: the service saves (and refuses to half-save)."""

    ruleset = forms.ChoiceField(choices=_ruleset_choices)
    didactic_source = forms.ChoiceField(
        choices=[("", "— choose —"), *Program._meta.get_field("didactic_source").choices], required=False
    )
    credential_level = forms.ChoiceField(
        label="Director's qualification",
        choices=[
            ("", "— none —"),
            *[(level.value, level.label) for level in Credential.DIRECTOR_LEVELS],
        ],
        required=False,
        help_text='SCMR 2021: a virtual program is "led by a Level-III-trained, Advanced Practitioner, or equivalent '
        'CMR expert".',
    )
    credential_justification = forms.CharField(
        max_length=NOTE_TEXT,
        label="Justification (equivalent expert only)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The training and experience that make the director an equivalent CMR expert.",
    )
    credential_body = forms.CharField(label="Issuing body", max_length=100, required=False, help_text="SCMR, EACVI, …")
    credential_identifier = forms.CharField(label="Certificate or letter id", max_length=100, required=False)
    credential_issued_on = forms.DateField(
        label="Issued on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    credential_document = forms.FileField(
        label="Credential letter or certificate (PDF)", required=False, widget=forms.FileInput(attrs={"accept": ".pdf"})
    )
    plan = forms.FileField(
        label="Remote training plan (PDF, at most 10 MB)",
        required=False,
        widget=forms.FileInput(attrs={"accept": "application/pdf,.pdf"}),
        help_text="Checked for patient identifiers before it is stored. Leave empty to keep the current plan.",
    )

    class Meta:
        model = Program
        fields = PROFILE_FIELDS
        widgets = {
            "track_record_evidence": forms.Textarea(attrs={"rows": 3}),
            "video_setup_attestation": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"video_setup_attestation": "Video set-up attestation (resolution, diagnostic display)"}

    def __init__(self, *args, credential: Credential | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if credential is not None and not self.is_bound:
            for name in ("level", "body", "identifier", "issued_on", "justification"):
                self.initial[f"credential_{name}"] = getattr(credential, name)
        self.fields[
            "interactive_group_cap"
        ].help_text = (
            f"Interactive sessions (case review, live acquisition…) are a small group: 1–{compliance.SMALL_GROUP_MAX}."
        )

    def clean(self):
        data = super().clean()
        given = [data.get(f"credential_{n}") for n in ("level", "body", "identifier", "issued_on")]
        if any(given) and not all(given):
            self.add_error(
                "credential_level", "Fill in the credential's level, issuing body, id and date, or none of them."
            )
        if (
            data.get("credential_level") == Credential.Level.EQ
            and not (data.get("credential_justification") or "").strip()
        ):
            self.add_error("credential_justification", "Say why the director is an equivalent CMR expert.")
        return data

    def _post_clean(self):
        # Do not copy the data onto the instance: the service does, inside its transaction.
        pass

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        credential = None
        if data.get("credential_level"):
            credential = {
                n: data.get(f"credential_{n}", "")
                for n in ("level", "body", "identifier", "issued_on", "justification")
            }
        return {
            "profile": {name: data[name] for name in PROFILE_FIELDS},
            "credential": credential,
            "plan": data.get("plan"),
            "credential_document": data.get("credential_document"),
        }


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (ProgramReviewEvent.Action.CHANGES_REQUESTED, "Request changes"),
            (ProgramReviewEvent.Action.VERIFIED, "Verify the program"),
            (ProgramReviewEvent.Action.DECLINED, "Decline"),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        max_length=LONG_TEXT,
        label="Comment (the reason, for changes and declines)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code in compliance.LINE_CODES:
            self.fields[f"line_{code}"] = forms.CharField(
                label=f"Comment on {code}", required=False, max_length=2000, widget=forms.TextInput()
            )

    def line_comments(self) -> dict:
        return {code: self.cleaned_data.get(f"line_{code}", "") for code in compliance.LINE_CODES}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("verified", "Verify this trainee"), ("returned", "Return to the program")], widget=forms.RadioSelect
    )
    decision_reasons = forms.CharField(
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Reasons (required when returning)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision_reasons"].not_optional = True  # the label says when it is required


class ReviewNoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For SCMR reviewers only: the program and the trainee never see notes. Notes cannot be edited "
        "later. No patient identifiers.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=NOTE_TEXT,
        label="Why is the verification revoked?",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the public check page. No patient identifiers.",
    )


class DeterminationForm(forms.Form):
    """The director's final determination; signing asks for the password (and the authenticator code) again."""

    decision = forms.ChoiceField(
        label="Decision", choices=FinalDetermination.Decision.choices, widget=forms.RadioSelect
    )
    in_person_assessed_on = forms.DateField(
        label="In-person final assessment on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    in_person_entry = forms.ChoiceField(label="Case acquired and interpreted in front of the mentor", required=False)
    in_person_component = forms.CharField(
        max_length=NOTE_TEXT,
        label="In-person final assessment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the mentor observed the trainee acquire and interpret. No patient identifiers.",
    )
    statement = forms.CharField(
        max_length=LONG_TEXT,
        label="Statement",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The determination in your words, e.g. competent to perform and interpret CMR independently.",
    )
    attest = forms.BooleanField(label="I make this attestation as the program director.", required=True)
    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    otp_code = forms.CharField(
        label="Code from your authenticator app",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, entries=(), needs_code: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["in_person_entry"].choices = [("", "—")] + [
            (e.pk, f"{e.case.reference} · {e.performed_on:%d %b %Y}") for e in entries
        ]
        if needs_code:
            self.fields["otp_code"].required = True
        else:
            del self.fields["otp_code"]
