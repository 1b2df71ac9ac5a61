"""The cast, shared by every test (as in healthchecks' alice/bob/charlie):

- director: directs `program` (has TOTP MFA), mentor: mentors `trainee` in `program`,
- trainee: enrolled in `program`, other_trainee: also in `program` but not mentored by `mentor`,
- outsider: directs another program at another institution, reviewer: SCMR reviewer (has TOTP MFA).
"""

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from rest_framework.test import APIClient

from programs.models import Membership

from .factories import CredentialFactory, EnrollmentFactory, MembershipFactory, ProgramFactory, UserFactory

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    """The curriculum topics come from a data migration and the competencies from the framework files on migrate. A transactional test ends
    with a flush, and serialized_rollback does not bring them back when such tests run after non-transactional ones
    (seen with pytest-django 4.14): re-create them, with the migrations' own code, before each transactional test."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from django.apps import apps

    from curriculum.models import Category

    # The topics' data migration ran when Category still belonged to cases: give it today's model.
    topics = importlib.import_module("cases.migrations.0003_seed_curriculum_topics")
    for position, (slug, name) in enumerate(topics.TOPICS):
        Category.objects.update_or_create(slug=slug, defaults={"name": name, "position": position})
    from assessments.apps import _sync_frameworks

    _sync_frameworks(sender=None, apps=apps)


@pytest.fixture
def director(db):
    user = UserFactory(email="director@example.test", full_name="Dana Director")
    CredentialFactory(user=user)
    TOTP.activate(user, TOTP_SECRET)
    return user


@pytest.fixture
def program(director):
    return ProgramFactory(director=director, name="Example Hybrid CMR Program")


@pytest.fixture
def mentor(program):
    user = UserFactory(email="mentor@example.test", full_name="Max Mentor")
    MembershipFactory(user=user, program=program, role=Membership.Role.MENTOR)
    CredentialFactory(user=user, level="II", identifier="SCMR-L2-MENTOR")  # signs entries that count for Level II
    return user


@pytest.fixture
def trainee(program, mentor):
    return UserFactory(email="trainee@example.test", full_name="Tess Trainee")


@pytest.fixture
def enrollment(trainee, program, mentor):
    return EnrollmentFactory(trainee=trainee, program=program, mentors=[mentor])


@pytest.fixture
def other_trainee(program):
    return UserFactory(email="other@example.test", full_name="Otto Other")


@pytest.fixture
def other_enrollment(other_trainee, program):
    return EnrollmentFactory(trainee=other_trainee, program=program)


@pytest.fixture
def outsider(db):
    user = UserFactory(email="outsider@example.test", full_name="Olga Outsider", institution="Elsewhere Clinic")
    TOTP.activate(user, TOTP_SECRET)
    ProgramFactory(director=user, institution="Elsewhere Clinic", name="Elsewhere Program")
    return user


@pytest.fixture
def reviewer(db):
    user = UserFactory(
        email="reviewer@example.test",
        full_name="Rita Reviewer",
        institution="SCMR Verification Committee",
        is_reviewer=True,
    )
    TOTP.activate(user, TOTP_SECRET)
    return user


def login(client, user):
    client.force_login(user)
    return client


def api_as(user) -> APIClient:
    return login(APIClient(), user)
