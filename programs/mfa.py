"""Directors (of any program) and SCMR reviewers must use multi-factor authentication before they act (SPEC
section 2). The rule depends on program membership, so it lives here and not in accounts (which sits below programs).

HTML requests are sent to the TOTP set-up page (RequireMFAMiddleware); the API answers 403
(IsAuthenticatedWithRequiredMFA, which also sees token-authenticated scripts the middleware cannot).
"""

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from rest_framework.permissions import IsAuthenticated

from .selectors import user_directs_a_program

# Paths a director or reviewer without MFA may still use: sign-in/out, MFA set-up itself, static files, health.
_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/verify/", "/admin/logout", "/api/")


def needs_mfa(user) -> bool:
    """Cached on the user object for the request."""
    cached = getattr(user, "_needs_mfa", None)
    if cached is None:
        cached = user._needs_mfa = bool(user.is_reviewer) or user_directs_a_program(user)
    return cached


def lacks_required_mfa(user) -> bool:
    return settings.REQUIRE_MFA and needs_mfa(user) and not is_mfa_enabled(user)


class RequireMFAMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not request.path.startswith(_EXEMPT_PREFIXES) and lacks_required_mfa(user):
            messages.info(request, "Program directors and SCMR reviewers must set up two-factor authentication first.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class IsAuthenticatedWithRequiredMFA(IsAuthenticated):
    message = "Multi-factor authentication must be set up before directors and reviewers can act."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and not lacks_required_mfa(request.user)
