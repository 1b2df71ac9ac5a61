"""The Django admin signs in through allauth (issue 11, item 9): its own login form would skip the second factor and
the rate limits."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from .factories import PASSWORD
from .test_mfa import _current_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_with_totp(director):
    director.is_staff = True
    director.save(update_fields=["is_staff"])
    return director


def test_admin_login_page_redirects_to_allauth_login(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")


def test_admin_index_sends_anonymous_users_to_allauth_login(client):
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


def test_posting_a_password_to_the_admin_login_does_not_sign_in(client, staff_with_totp):
    response = client.post(
        reverse("admin:login"), {"username": staff_with_totp.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_user_with_totp_needs_the_second_factor_to_reach_the_admin(client, staff_with_totp):
    cache.clear()  # TOTP codes are single-use within their window
    response = client.post(
        reverse("account_login") + "?next=/admin/", {"login": staff_with_totp.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))

    response = client.post(reverse("mfa_authenticate"), {"code": _current_code()})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_signed_in_non_staff_user_gets_403_from_the_admin_login(client, trainee):
    client.force_login(trainee)
    assert client.get(reverse("admin:login")).status_code == 403


def test_admin_sign_in_is_rate_limited(client, settings, staff_with_totp):
    cache.clear()
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,3/5m/key"}
    for _ in range(3):
        client.post(reverse("account_login") + "?next=/admin/", {"login": staff_with_totp.email, "password": "wrong"})
    response = client.post(
        reverse("account_login") + "?next=/admin/", {"login": staff_with_totp.email, "password": PASSWORD}
    )
    assert response.status_code != 302 or response["Location"] != reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    cache.clear()
