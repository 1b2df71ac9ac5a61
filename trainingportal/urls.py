"""The project's URLs. Several apps serve pages under one prefix and namespace where a page needs a higher layer
(README "Architecture"): /programs/ is programs (list, create), progress (the program page and dashboard) and trainees
(the invitation link)."""

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from assessments import urls as assessment_urls
from cases import urls as case_urls
from programs import urls as program_urls
from progress import urls as progress_urls
from trainees import urls as trainee_urls
from trainingportal import home
from trainingportal.core import views as core_views
from verification import urls as verification_urls
from verification.views.dossiers import verify

# The admin's own login form would skip allauth: no second factor, no rate limits. Signing in goes through allauth
# (password, then TOTP/WebAuthn when set up, with ACCOUNT_RATE_LIMITS); the admin then only checks is_staff.
admin.site.login = secure_admin_login(admin.site.login)

# Swagger UI's page starts the UI with one inline script that carries the server's settings (schema URL, CSRF
# header): it gets the request's nonce, on this page only; the UI's React components set inline styles, hence
# 'unsafe-inline' for styles here (no data of ours is shown on this page, only the public schema).
SWAGGER_UI_CSP = {
    **settings.SECURE_CSP,
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
}
api_docs = csp_override(SWAGGER_UI_CSP)(
    SpectacularSwaggerView.as_view(url_name="api-schema", template_name="core/swagger_ui.html")
)

programs = [*program_urls.urlpatterns, *progress_urls.program_urlpatterns, *trainee_urls.invitation_urlpatterns]

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("verify/<str:code>/", verify, name="verify"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("trainingportal.accounts.urls")),
    path("programs/", include((programs, "programs"))),
    path("program-verification/", include((verification_urls.program_urlpatterns, "verification"))),
    path("sessions/", include("training.urls")),
    path(
        "enrollments/",
        include(([*progress_urls.enrollment_urlpatterns, *assessment_urls.enrollment_urlpatterns], "trainees")),
    ),
    path("cases/", include(case_urls)),
    path("cases/io/", include((case_urls.io_urlpatterns, "cases_io"))),
    path("dossiers/", include((verification_urls.dossier_urlpatterns, "dossiers"))),
    path("api/v1/", include("trainingportal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("admin/", admin.site.urls),
]
