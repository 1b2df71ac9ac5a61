"""Failed sign-ins are counted in a cache every process shares (issue 11, item 10): with Redis as the cache, the
attempts of two processes (two gunicorn workers, two hosts) add up, per account as well as per address."""

import json
import os
import subprocess
import sys
import uuid

import pytest
import redis
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse

from .factories import PASSWORD

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL", "")

# The second process: the same settings, its own Redis client, failed sign-ins from another address (allauth's
# adapter step that counts an attempt before the password is checked; no database needed).
SECOND_PROCESS = """
import json, sys
import django
django.setup()
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.test.utils import override_settings
caches, email, attempts = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
# The account's key is "<host>:<e-mail>": the same host as the test client's.
with override_settings(CACHES=caches, ALLOWED_HOSTS=["testserver"]):
    from allauth.account.adapter import get_adapter
    refused = 0
    for _ in range(attempts):
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="198.51.100.7")
        try:
            get_adapter(request).pre_authenticate(request, email=email, password="wrong")
        except ValidationError:
            refused += 1
print(refused)
"""


@pytest.fixture
def redis_cache(settings):
    if not REDIS_URL:
        pytest.skip("REDIS_URL is not set: this test needs a Redis server (CI and `make test` provide one)")
    prefix = f"test-rl-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield settings.CACHES
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def _failed_logins_in_another_process(caches: dict, email: str, attempts: int) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "trainingportal.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, json.dumps(caches), email, str(attempts)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_failed_logins_of_two_processes_count_together(client, redis_cache, trainee):
    assert cache._cache.__class__.__name__ == "RedisCacheClient"
    # Five failed attempts per account in five minutes (ACCOUNT_RATE_LIMITS): three here, two in another process
    # from another address.
    for _ in range(3):
        response = client.post(reverse("account_login"), {"login": trainee.email, "password": "wrong"})
        assert response.status_code == 200
    assert _failed_logins_in_another_process(redis_cache, trainee.email, 2) == 0

    # The sixth attempt is refused, even with the right password: the limit counted all five.
    response = client.post(reverse("account_login"), {"login": trainee.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # ... and so is the other process's next attempt.
    assert _failed_logins_in_another_process(redis_cache, trainee.email, 1) == 1


def test_separate_caches_would_not_have_counted_together(client, redis_cache, trainee, settings):
    # The control: the same three attempts here and two in the other process, each in its own memory, leave this
    # process with three attempts: the right password still signs in (what 3 gunicorn workers did before).
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}}
    settings.CACHES = local
    for _ in range(3):
        client.post(reverse("account_login"), {"login": trainee.email, "password": "wrong"})
    assert _failed_logins_in_another_process(local, trainee.email, 2) == 0
    response = client.post(reverse("account_login"), {"login": trainee.email, "password": PASSWORD})
    assert response.status_code == 302


def test_rate_limits_are_per_account_and_per_address():
    rules = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    assert {rule.rsplit("/", 1)[1] for rule in rules} == {"ip", "key"}


@pytest.mark.parametrize(
    "proxies, header, forwarded, expected",
    [
        (0, None, "203.0.113.9", "192.0.2.1"),  # no proxy of ours: the header is ignored (clients can forge it)
        (1, None, "203.0.113.9", "203.0.113.9"),
        (1, None, "10.9.9.9, 203.0.113.9", "203.0.113.9"),  # a forged first entry does not count
        (0, "X-Real-IP", "", "198.51.100.20"),
    ],
)
def test_client_address_comes_from_the_trusted_proxy(settings, proxies, header, forwarded, expected):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = header
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {"HTTP_X_REAL_IP": "198.51.100.20"}
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.1", **extra)
    assert get_adapter(request).get_client_ip(request) == expected
