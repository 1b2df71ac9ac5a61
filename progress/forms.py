from django import forms

from trainingportal.core.text import NOTE_TEXT


class VirtualShareForm(forms.Form):
    """The mentor's lower virtual share for one trainee (never above the program's)."""

    share = forms.IntegerField(
        label="Maximum virtual share for this trainee (%)",
        min_value=0,
        max_value=100,
        required=False,
        help_text="Leave empty to use the program's maximum.",
    )
    reason = forms.CharField(
        max_length=NOTE_TEXT,
        label="Why this trainee's share is lower",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Your evaluation of the trainee's competency. No patient identifiers.",
    )

    def __init__(self, *args, program_cap: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["share"].max_value = program_cap
        self.fields["share"].widget.attrs["max"] = program_cap
        self.fields["share"].help_text = f"At most the program's {program_cap}%. Leave empty to use the program's."


class PriorExperienceForm(forms.Form):
    """The mentor's record that the trainee's prior experience covers an in-person competency."""

    competency = forms.ChoiceField(label="Competency")
    reason = forms.CharField(
        max_length=NOTE_TEXT,
        label="Prior experience",
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        help_text="Where, how many cases, supervised by whom. No patient identifiers. This cannot be undone.",
    )

    def __init__(self, *args, competencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["competency"].choices = [(c.code, c.title) for c in competencies]
