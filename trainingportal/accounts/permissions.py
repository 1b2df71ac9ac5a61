from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from rest_framework.permissions import IsAuthenticated

from .roles import needs_mfa


class IsAuthenticatedWithRequiredMFA(IsAuthenticated):
    """API counterpart of RequireMFAMiddleware: it also covers token-authenticated scripts, which the middleware
    cannot see (DRF authenticates tokens inside the view)."""

    message = "Multi-factor authentication must be set up before directors and reviewers can act."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        user = request.user
        return not (settings.REQUIRE_MFA and needs_mfa(user) and not is_mfa_enabled(user))
