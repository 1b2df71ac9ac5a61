"""Free text in and out of the API: a length cap on every field and no silent coercion of numbers to text."""

from rest_framework import serializers

# Long clinical text (findings, impression, feedback, statements); notes and reasons; a line.
LONG_TEXT = 4_000
NOTE_TEXT = 2_000
SHORT_TEXT = 500


class StrictCharField(serializers.CharField):
    """A CharField that takes only JSON strings (DRF's own turns 12345 into "12345") and is always capped."""

    default_error_messages = {"not_a_string": "Send text (a JSON string), not {input_type}."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", LONG_TEXT)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string", input_type=type(data).__name__)
        return super().to_internal_value(data)
