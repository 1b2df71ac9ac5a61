from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect

from trainingportal.accounts.roles import needs_mfa

# Paths a director or reviewer without MFA may still use: sign-in/out, MFA set-up itself, static files, health.
# The API enforces the same rule in its permission class (which also sees token-authenticated requests).
_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/verify/", "/admin/logout", "/api/")


class RequireMFAMiddleware:
    """Directors and SCMR reviewers must set up MFA before they can act (SPEC section 2).

    HTML requests are sent to the TOTP set-up page; the API answers 403 (accounts.permissions).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            settings.REQUIRE_MFA
            and user.is_authenticated
            and not request.path.startswith(_EXEMPT_PREFIXES)
            and needs_mfa(user)
            and not is_mfa_enabled(user)
        ):
            messages.info(request, "Program directors and SCMR reviewers must set up two-factor authentication first.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)
