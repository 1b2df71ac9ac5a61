from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from assessments.views import verify
from trainingportal.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("verify/<str:code>/", verify, name="verify"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("trainingportal.accounts.urls")),
    path("programs/", include("programs.urls")),
    path("program-verification/", include("programs.urls_verification")),
    path("sessions/", include("programs.urls_sessions")),
    path("enrollments/", include("trainees.urls")),
    path("cases/", include("cases.urls")),
    path("cases/io/", include("cases.urls_io")),
    path("dossiers/", include("assessments.urls")),
    path("api/v1/", include("trainingportal.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
