from rest_framework.routers import DefaultRouter

from assessments.api import SignOffViewSet
from cases.api import CaseLogViewSet
from progress.api import EnrollmentViewSet
from training.api import SessionViewSet
from verification.api.dossiers import VerificationRequestViewSet
from verification.api.programs import ProgramViewSet

router = DefaultRouter()
router.register("programs", ProgramViewSet, basename="program")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("case-logs", CaseLogViewSet, basename="case-log")
router.register("verification-requests", VerificationRequestViewSet, basename="verification-request")
router.register("sessions", SessionViewSet, basename="session")
router.register("sign-offs", SignOffViewSet, basename="sign-off")

urlpatterns = router.urls
