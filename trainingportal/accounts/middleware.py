from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect

from trainingportal.accounts.roles import needs_mfa

# Paths a director or reviewer without MFA may still use: sign-in/out, MFA set-up itself, static files, health.
_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/verify/", "/admin/logout")


class RequireMFAMiddleware:
    """Directors and SCMR reviewers must set up MFA before they can act (SPEC section 2).

    HTML requests are sent to the TOTP set-up page; API requests get 403 with an explanation.
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
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(
                    {"detail": "Multi-factor authentication must be set up before directors and reviewers can act."},
                    status=403,
                )
            messages.info(request, "Program directors and SCMR reviewers must set up two-factor authentication first.")
            return redirect("mfa_activate_totp")
        return self.get_response(request)
