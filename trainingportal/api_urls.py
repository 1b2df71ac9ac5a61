from rest_framework.routers import DefaultRouter

from assessments.api import VerificationRequestViewSet
from cases.api import CaseLogViewSet
from programs.api import ProgramViewSet
from programs.api_sessions import SessionViewSet
from trainees.api import EnrollmentViewSet

router = DefaultRouter()
router.register("programs", ProgramViewSet, basename="program")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("case-logs", CaseLogViewSet, basename="case-log")
router.register("verification-requests", VerificationRequestViewSet, basename="verification-request")
router.register("sessions", SessionViewSet, basename="session")

urlpatterns = router.urls
