from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.BaseForm, exc: ValidationError, *, field_map: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError onto the form: field errors on their fields, the rest on top."""
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            name = field_map.get(field, field)
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def form_status(form: forms.BaseForm | None) -> int:
    """The status of a page that shows a form: 400 when a submitted form is shown again with its errors, so that
    clients, tests and monitoring can tell a refused submission from a page view."""
    return 400 if form is not None and form.is_bound and form.errors else 200
