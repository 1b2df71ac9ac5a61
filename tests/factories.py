import datetime
import hashlib
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from assessments.models import Competency, FinalDetermination, SignOff
from cases.models import Case, CaseLogEntry
from curriculum.models import Category
from programs.models import Invitation, Membership, Program
from trainees.models import Enrollment
from training.models import Attendance, CalendarFeedToken, Lecture, LectureCompletion, TrainingSession
from trainingportal.accounts.models import Credential, User
from verification.models import ProgramReview, VerificationRequest

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    institution = "Example Heart Center"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class CredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credential

    user = factory.SubFactory(UserFactory)
    level = "III"
    body = "SCMR"
    identifier = factory.Sequence(lambda n: f"SCMR-L3-{n:05d}")
    issued_on = datetime.date(2019, 5, 1)


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Hybrid CMR Program {n}")
    institution = "Example Heart Center"
    director = factory.SubFactory(UserFactory)
    # New programs review blind by default (Program.blind_review); most tests exercise the plain sign-off, and the
    # blind-review tests turn it on.
    blind_review = False

    @factory.post_generation
    def director_membership(self, create, extracted, **kwargs):
        if create:
            Membership.objects.get_or_create(user=self.director, program=self, role=Membership.Role.DIRECTOR)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    program = factory.SubFactory(ProgramFactory)
    role = Membership.Role.MENTOR


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment
        skip_postgeneration_save = True

    trainee = factory.SubFactory(UserFactory)
    program = factory.SubFactory(ProgramFactory)
    start_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=60))

    @factory.post_generation
    def membership(self, create, extracted, **kwargs):
        if create:
            Membership.objects.get_or_create(user=self.trainee, program=self.program, role=Membership.Role.TRAINEE)

    @factory.post_generation
    def mentors(self, create, extracted, **kwargs):
        if create and extracted:
            self.mentors.set(extracted)


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case
        skip_postgeneration_save = True

    program = factory.SubFactory(ProgramFactory)
    reference = factory.Sequence(lambda n: f"EX-{n:05d}")
    indication = "Suspected cardiomyopathy"

    @factory.post_generation
    def categories(self, create, extracted, **kwargs):
        if create:
            slugs = extracted or ["cardiomyopathy"]
            self.categories.set(Category.objects.filter(slug__in=slugs))


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseLogEntry
        skip_postgeneration_save = True

    enrollment = factory.SubFactory(EnrollmentFactory)
    case = factory.SubFactory(CaseFactory, program=factory.SelfAttribute("..enrollment.program"))
    performed_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=3))
    interpreted = True
    supervising_mentor = factory.SubFactory(UserFactory)
    impression = "Dilated cardiomyopathy with mid-wall septal LGE."
    findings = "LVEF 31%, LV EDVi 128 ml/m2."

    class Params:
        submitted = factory.Trait(status=CaseLogEntry.Status.SUBMITTED, submitted_at=factory.LazyFunction(timezone.now))
        signed = factory.Trait(
            status=CaseLogEntry.Status.SIGNED,
            submitted_at=factory.LazyFunction(timezone.now),
            signed_at=factory.LazyFunction(timezone.now),
            signed_by=factory.SelfAttribute("supervising_mentor"),
            mentor_feedback="Good read.",
            mentor_agrees=True,
        )

    @factory.post_generation
    def signer_credential(self, create, extracted, **kwargs):
        """A signed entry counts only when its signer holds a CMR credential of the ruleset's level: give a signer
        without one a Level III (pass `signer_credential=False` to leave them without)."""
        if create and self.signed_by_id and extracted is not False:
            if not Credential.objects.filter(user_id=self.signed_by_id).exists():
                CredentialFactory(user=self.signed_by)


class VerificationRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationRequest

    enrollment = factory.SubFactory(EnrollmentFactory)
    requested_by = factory.SelfAttribute("enrollment.program.director")


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    program = factory.SubFactory(ProgramFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Membership.Role.MENTOR
    invited_by = factory.SelfAttribute("program.director")
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))


class SessionFactory(factory.django.DjangoModelFactory):
    """An upcoming virtual case review, led by the program's director unless a mentor is given."""

    class Meta:
        model = TrainingSession

    program = factory.SubFactory(ProgramFactory)
    type = TrainingSession.Type.CASE_REVIEW
    delivery = TrainingSession.Delivery.VIRTUAL_TWO_WAY
    title = factory.LazyAttribute(lambda o: f"{o.type} session")
    mentor = factory.SelfAttribute("program.director")
    # Whole seconds: the ICS feed and the API carry no microseconds.
    starts_at = factory.LazyFunction(lambda: (timezone.now() + datetime.timedelta(days=2)).replace(microsecond=0))
    duration_minutes = 60


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    session = factory.SubFactory(SessionFactory)
    enrollment = factory.SubFactory(EnrollmentFactory, program=factory.SelfAttribute("..session.program"))


class LectureFactory(factory.django.DjangoModelFactory):
    """A recorded lecture of the library; `topic_slug` picks its curriculum topic (the rows come from a data
    migration)."""

    class Meta:
        model = Lecture

    class Params:
        topic_slug = "safety"

    program = factory.SubFactory(ProgramFactory)
    title = factory.Sequence(lambda n: f"Lecture {n}")
    topic = factory.LazyAttribute(lambda o: Category.objects.get(slug=o.topic_slug))
    kind = Lecture.Kind.RECORDED
    hours = Decimal("1.00")


class LectureCompletionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LectureCompletion

    lecture = factory.SubFactory(LectureFactory)
    enrollment = factory.SubFactory(EnrollmentFactory, program=factory.SelfAttribute("..lecture.program"))


class FeedTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarFeedToken

    user = factory.SubFactory(UserFactory)


class SignOffFactory(factory.django.DjangoModelFactory):
    """An in-person sign-off; `competency_code` picks the competency (the rows come from a data migration:
    stress-testing and cied-scanning need in-person experience, mr-safety-screening does not)."""

    class Meta:
        model = SignOff

    class Params:
        competency_code = "stress-testing"

    enrollment = factory.SubFactory(EnrollmentFactory)
    competency = factory.LazyAttribute(lambda o: Competency.objects.get(code=o.competency_code))
    signer = factory.SelfAttribute("enrollment.program.director")
    signed_on = factory.LazyFunction(timezone.localdate)
    delivery = SignOff.Delivery.IN_PERSON


class DeterminationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinalDetermination

    enrollment = factory.SubFactory(EnrollmentFactory)
    director = factory.SelfAttribute("enrollment.program.director")
    decision = FinalDetermination.Decision.COMPETENT
    statement = "Competent to perform and interpret CMR independently."
    signed_at = factory.LazyFunction(timezone.now)
    signature_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.statement.encode()).hexdigest())


class ProgramReviewFactory(factory.django.DjangoModelFactory):
    """A round of SCMR program review, submitted by the program's director and not yet taken by a reviewer."""

    class Meta:
        model = ProgramReview

    program = factory.SubFactory(ProgramFactory)
    submitted_by = factory.SelfAttribute("program.director")
    status = Program.VerificationStatus.SUBMITTED
