"""Directors and SCMR reviewers must have multi-factor authentication before they can act (SPEC section 2)."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core.cache import cache
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .conftest import TOTP_SECRET
from .factories import PASSWORD

pytestmark = pytest.mark.django_db

MFA_MESSAGE = "Multi-factor authentication must be set up"


def _without_mfa(user):
    Authenticator.objects.filter(user=user).delete()
    return user


@pytest.fixture
def director_without_mfa(director, program):
    return _without_mfa(director)


@pytest.fixture
def reviewer_without_mfa(reviewer):
    return _without_mfa(reviewer)


@pytest.fixture(params=["director", "reviewer"])
def user_who_needs_mfa(request, director, program, reviewer):
    return _without_mfa({"director": director, "reviewer": reviewer}[request.param])


def _current_code(secret: str = TOTP_SECRET) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))  # the middle one is "now"


def test_director_or_reviewer_without_mfa_is_sent_to_totp_setup(client, user_who_needs_mfa, program):
    client.force_login(user_who_needs_mfa)
    for url in (reverse("home"), reverse("programs:list"), reverse("programs:detail", args=[program.pk])):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_activate_totp"), url


def test_director_without_mfa_can_reach_totp_setup_after_signing_in(client, director_without_mfa):
    response = client.post(
        reverse("account_login"), {"login": director_without_mfa.email, "password": PASSWORD}, follow=True
    )
    chain = [url for url, _ in response.redirect_chain]
    assert reverse("mfa_activate_totp") in chain
    # allauth asks for the password again before MFA changes; that page is reachable too (no redirect loop).
    assert response.status_code == 200
    assert chain[-1].startswith(reverse("account_reauthenticate"))
    response = client.post(chain[-1], {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("mfa_activate_totp")
    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()


def test_director_or_reviewer_without_mfa_gets_403_json_from_the_api(user_who_needs_mfa):
    client = APIClient()
    client.force_login(user_who_needs_mfa)
    response = client.get("/api/v1/programs/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert MFA_MESSAGE in response.json()["detail"]


def test_api_token_does_not_bypass_mfa(director_without_mfa, enrollment):
    token = Token.objects.create(user=director_without_mfa)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post("/api/v1/verification-requests/", {"enrollment": enrollment.pk}, format="json")
    assert response.status_code == 403
    assert MFA_MESSAGE in response.json()["detail"]
    assert not enrollment.verification_requests.exists()


@pytest.mark.parametrize("role", ["mentor", "trainee"])
def test_mentor_and_trainee_do_not_need_mfa(client, role, mentor, trainee, enrollment, program):
    user = {"mentor": mentor, "trainee": trainee}[role]
    assert not Authenticator.objects.filter(user=user).exists()
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("programs:detail", args=[program.pk])).status_code == 200
    api = APIClient()
    api.force_login(user)
    assert api.get("/api/v1/case-logs/").status_code == 200


def test_director_with_mfa_passes(client, director, program):
    client.force_login(director)
    assert client.get(reverse("home")).status_code == 200
    api = APIClient()
    api.force_login(director)
    assert api.get("/api/v1/programs/").status_code == 200


def test_director_without_mfa_passes_when_mfa_is_not_required(client, settings, director_without_mfa, program):
    settings.REQUIRE_MFA = False
    client.force_login(director_without_mfa)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("programs:detail", args=[program.pk])).status_code == 200
    api = APIClient()
    api.force_login(director_without_mfa)
    assert api.get("/api/v1/programs/").status_code == 200


def test_director_signs_in_with_password_and_totp_code(client, director, program):
    cache.clear()  # TOTP codes are single-use: forget codes another test may have used in this time window
    response = client.post(reverse("account_login"), {"login": director.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # The password alone does not sign in.
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("programs:list"))["Location"].startswith(reverse("account_login"))

    response = client.post(reverse("mfa_authenticate"), {"code": _current_code()})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.session["_auth_user_id"] == str(director.pk)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert program.name in response.content.decode()


def test_wrong_totp_code_does_not_sign_in(client, director):
    cache.clear()
    client.post(reverse("account_login"), {"login": director.email, "password": PASSWORD})
    wrong = f"{(int(_current_code()) + 1) % 1_000_000:06d}"
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
