"""Shared API plumbing: viewsets resolve single objects through the aggregate's access function, so the API gives
the same 404 / 403 answers as the HTML views; list querysets come from the same scoped selectors."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers


class AccessFunctionMixin:
    """Set `access_function(user, pk, *, action)`; `object_action` maps a viewset action to the access action."""

    access_function = None
    object_action: dict[str, str] = {}

    def get_object(self):
        pk = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            from django.http import Http404

            raise Http404 from None
        action = self.object_action.get(self.action, "view")
        return type(self).access_function(self.request.user, pk, action=action)


def as_drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError({k: [m for e in v for m in e.messages] for k, v in exc.error_dict.items()})
    return serializers.ValidationError({"non_field_errors": exc.messages})
