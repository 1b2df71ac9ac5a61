"""Production: every secret comes from the environment, with no default."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, REDIS_URL, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# The address printed on every dossier (check URL and QR code): required, never a default that would send a reader
# of the packet to the wrong site.
SITE_URL = env("SITE_URL")
# Without Redis, Celery would run every job (dossier PDFs) inside the web request, and each gunicorn worker would
# count failed sign-ins in its own memory: refuse to start half-configured instead.
if not REDIS_URL:
    raise ImproperlyConfigured("Set REDIS_URL (the Celery broker and the shared cache), e.g. redis://redis:6379/0.")
if not SITE_URL:
    raise ImproperlyConfigured("Set SITE_URL to the public address printed on every dossier.")
if not CACHES["default"]["BACKEND"].endswith("RedisCache"):
    raise ImproperlyConfigured("The default cache must be Redis (CACHE_URL or REDIS_URL): rate limits are shared.")
CELERY_TASK_ALWAYS_EAGER = False
REQUIRE_MFA = True
# Persistent database connections (a new PostgreSQL connection costs ~6 ms per request), checked before reuse.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
