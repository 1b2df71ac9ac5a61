import datetime

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from cases.models import Case, CaseLogEntry
from curriculum.models import Category
from programs.models import Membership, Program
from trainees.models import Enrollment
from trainingportal.accounts.models import Credential, User
from verification.models import VerificationRequest

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


class VerificationRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationRequest

    enrollment = factory.SubFactory(EnrollmentFactory)
    requested_by = factory.SelfAttribute("enrollment.program.director")
