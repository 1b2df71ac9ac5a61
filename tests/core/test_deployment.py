"""Production refuses to start half-configured, and media can live in S3-compatible storage (issue 11, item 13)."""

import os
import socket
import subprocess
import sys
import uuid

import boto3
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from storages.backends.s3 import S3Storage

from tests.factories import VerificationRequestFactory
from verification.dossier import dossier_response

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "trainingportal.settings.production",
    "SECRET_KEY": "deployment-test-not-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "training.example.org",
    "SITE_URL": "https://training.example.org",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}
SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CACHES['default']['BACKEND'], settings.CELERY_TASK_ALWAYS_EAGER, settings.STORAGES['default'])"
)


def _start(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "CACHE_URL", "AWS_STORAGE_BUCKET_NAME"}}
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_redis_as_cache_and_broker():
    done = _start(PRODUCTION)
    assert done.returncode == 0, done.stderr[-2000:]
    backend, eager, _storage = done.stdout.split(" ", 2)
    assert backend == "django.core.cache.backends.redis.RedisCache"
    assert eager == "False"  # jobs go to the workers, never into the web request


@pytest.mark.parametrize("missing", ["REDIS_URL", "SITE_URL"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    done = _start(env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert missing in done.stderr


def test_production_refuses_an_empty_redis_url():
    done = _start({**PRODUCTION, "REDIS_URL": ""})
    assert done.returncode != 0 and "REDIS_URL" in done.stderr


def test_production_uses_s3_storage_when_a_bucket_is_configured():
    done = _start({**PRODUCTION, "AWS_STORAGE_BUCKET_NAME": "media", "S3_ENDPOINT_URL": "http://s3.invalid:9000"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "storages.backends.s3.S3Storage" in done.stdout and "http://s3.invalid:9000" in done.stdout


# --- S3-compatible storage, against a server the test starts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_server():
    try:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - a test-only dependency, loaded where used
    except ImportError as exc:  # pragma: no cover - requirements.txt pins moto[server]
        pytest.skip(f"moto[server] is not installed: {exc}")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:  # pragma: no cover - e.g. no loopback networking in a sandbox
        pytest.skip(f"could not start the S3-compatible test server (moto): {exc}")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_server):
    bucket = f"tp-media-{uuid.uuid4().hex[:8]}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_server, **credentials).create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "location": "media",
                "default_acl": None,
                "file_overwrite": False,
                "addressing_style": "path",
            },
        },
    }
    return boto3.client("s3", endpoint_url=s3_server, **credentials), bucket


def test_a_dossier_is_stored_and_read_back_through_s3(s3_storage):
    client, bucket = s3_storage
    assert isinstance(storages["default"], S3Storage)
    pdf = b"%PDF-1.7\n" + os.urandom(4096) + b"\n%%EOF"

    name = default_storage.save("dossiers/ABCD-1234.pdf", ContentFile(pdf))

    assert name == "dossiers/ABCD-1234.pdf"
    stored = client.get_object(Bucket=bucket, Key=f"media/{name}")["Body"].read()
    assert stored == pdf  # in the bucket, where every web and worker host reads it
    assert default_storage.exists(name)
    with default_storage.open(name, "rb") as handle:
        assert handle.read() == pdf
    # A second file of the same name gets a new name instead of replacing the first, as on local disk.
    assert default_storage.save("dossiers/ABCD-1234.pdf", ContentFile(b"%PDF-1.7 other")) != name
    default_storage.delete(name)
    assert not default_storage.exists(name)


@pytest.mark.django_db
def test_a_dossier_download_streams_from_s3(s3_storage, enrollment):
    pdf = b"%PDF-1.7 from the bucket"
    name = default_storage.save("dossiers/stream.pdf", ContentFile(pdf))
    verification_request = VerificationRequestFactory(
        enrollment=enrollment, status="ready", dossier=name, sha256="0" * 64
    )
    response = dossier_response(verification_request)
    assert b"".join(response.streaming_content) == pdf
    assert response["Cache-Control"] == "private, no-store"
