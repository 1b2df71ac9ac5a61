"""Shared API plumbing.

- Viewsets resolve single objects through the aggregate's access function, so the API gives the same 404 / 403
  answers as the HTML views; list querysets come from the same scoped selectors.
- Services raise Django's ValidationError and PermissionDenied; `exception_handler` turns them into API errors once,
  for every endpoint (HackSoft's styleguide does the same), so views never catch them.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.views import exception_handler as drf_exception_handler


class AccessFunctionMixin:
    """Set `access_function(user, pk, *, action) -> Access`; `object_action` maps a viewset action to the access
    action. `get_object()` returns the object; `get_access()` the object with the user's roles."""

    access_function = None
    object_action: dict[str, str] = {}

    def get_access(self):
        pk = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            raise Http404 from None
        action = self.object_action.get(self.action, "view")
        return type(self).access_function(self.request.user, pk, action=action)

    def get_object(self):
        return self.get_access().obj


def as_drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError({k: [m for e in v for m in e.messages] for k, v in exc.error_dict.items()})
    return serializers.ValidationError({"non_field_errors": exc.messages})


def exception_handler(exc, context):
    """DRF's handler, plus the services' ValidationError as a 400 (field errors by field, others as
    non_field_errors). DRF already answers Django's PermissionDenied with 403 and Http404 with 404."""
    if isinstance(exc, DjangoValidationError):
        exc = as_drf_error(exc)
    elif isinstance(exc, Http404):
        # One body for every 404: an id that exists but is not yours answers exactly like an id that does not exist
        # (the access functions' messages and DRF's "No X matches the given query." would name the model).
        exc = NotFound()
    return drf_exception_handler(exc, context)
