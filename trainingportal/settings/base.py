"""Settings shared by every environment. Values come from the environment (django-environ)."""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "trainingportal.accounts",
    "trainingportal.core",
    # Domain apps, from the ground up: each may use the ones above it in this list, never the ones below
    # (README "Architecture"; import-linter contracts in pyproject.toml).
    "curriculum",
    "programs",
    "trainees",
    "training",
    "cases",
    "assessments",
    "progress",
    "verification",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "programs.mfa.RequireMFAMiddleware",
]

# Content-Security-Policy (Django's own): scripts, styles, images and fonts from this site only, no inline script
# or style anywhere (every page's JS is in static/js, its CSS in static/css; charts and bars use SVG attributes and
# classes). One exception, the Swagger UI at /api/docs/ (trainingportal/urls.py, SWAGGER_UI_CSP).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],  # data: for the TOTP setup QR code allauth renders as a data URI
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Browser features no page uses are switched off; WebAuthn (passkeys, security keys) and copying recovery codes stay
# on for this site only.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "display-capture": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
    "clipboard-write": ["self"],
}

ROOT_URLCONF = "trainingportal.urls"
WSGI_APPLICATION = "trainingportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "programs.context_processors.navigation",
            ],
        },
    },
]

# Default: a local SQLite file, so `make demo` works with nothing installed.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # PostgreSQL's JIT compiles a plan when its cost estimate is high (e.g. a 50-trainee dashboard) and spends
    # 100+ ms doing so on queries that run in 30 ms. An OLTP web app does not profit from it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server and its Celery worker are two processes on one SQLite file. WAL: readers and the writer
    # do not block each other; IMMEDIATE: a transaction takes the write lock when it begins, so two writers queue on
    # the busy timeout instead of failing at once with "database is locked" (a deferred read-then-write cannot wait).
    sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    sqlite_options.setdefault("transaction_mode", "IMMEDIATE")
    sqlite_options.setdefault("timeout", 20)
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# allauth: e-mail is the login; e-mail addresses must be verified.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "trainingportal.accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[trainingportal] "
# Failed sign-ins are counted per client address and per account (the e-mail tried), in the shared cache (CACHES):
# with one cache for every gunicorn worker and host, the limit is the limit, not the limit times the workers.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip", "reset_password": "20/m/ip,5/m/key"}
# The client address allauth counts by: behind N proxies of ours, the N-th address from the right of X-Forwarded-For
# (0: ignore the header, which a client can forge); or a header the proxy sets (e.g. X-Real-IP).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("TRUSTED_CLIENT_IP_HEADER", default="") or None
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = "trainingportal"
# Directors and reviewers must set up MFA before they can act (RequireMFAMiddleware).
REQUIRE_MFA = env.bool("REQUIRE_MFA", default=True)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Media (remote training plans, dossiers) in an S3-compatible bucket (django-storages) when one is configured: then
# every web and worker machine reads the same files. Private objects, read through the app (signed URLs are not used:
# downloads go through the access checks and FileResponse). Without a bucket, MEDIA_ROOT on local disk (one host).
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("S3_ENDPOINT_URL", default="") or None,  # MinIO, Ceph, ...; None: AWS itself
            "region_name": env("S3_REGION_NAME", default="") or None,
            # No keys: boto3's own chain (instance role, ...).
            "access_key": env("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env("S3_LOCATION", default="media"),
            "default_acl": None,  # the bucket's own policy: private
            "file_overwrite": False,  # as on disk: a new name rather than silently replacing another file
            "addressing_style": env("S3_ADDRESSING_STYLE", default="") or None,  # "path" for most self-hosted
        },
    }

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="trainingportal <noreply@trainingportal.test>")

# The cache every process shares (allauth's rate limits, single-use TOTP codes): Redis when REDIS_URL (or CACHE_URL)
# is set; else each process's own memory, for the demo's single web process and the tests.
CACHE_URL = env("CACHE_URL", default=env("REDIS_URL", default=""))
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "tp",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. The broker is, in this order:
# - Redis when REDIS_URL is set (production, docker compose);
# - else, when DEMO_BROKER_DIR is set, an embedded broker: kombu's filesystem transport, one file per message in that
#   directory, shared by the web process and a real worker on the same machine (`make demo` sets it);
# - else none: tasks run eagerly in the calling process (tests, one-off commands); /healthz says so.
REDIS_URL = env("REDIS_URL", default="")
DEMO_BROKER_DIR = "" if REDIS_URL else env("DEMO_BROKER_DIR", default="")
# (A host name in the filesystem URL only spares a kombu warning at each connection.)
CELERY_BROKER_URL = REDIS_URL or ("filesystem://localhost/" if DEMO_BROKER_DIR else "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or DEMO_BROKER_DIR)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = {"verification.tasks.*": {"queue": "pdf"}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps trying to reach Redis however long it is away (the default gives up after 100 tries and the worker
# exits, with nothing to restart it); a render in progress is not cancelled on connection loss: it finishes and
# writes the row (tests/verification/test_faults.py), and the lease + sweeper recover a job lost with its message.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    # Notice a dead Redis connection (restart, failover) before using it, and retry a command that timed out.
    "health_check_interval": 10,
    "retry_on_timeout": True,
    "socket_keepalive": True,
}


def filesystem_broker_options(directory: Path) -> dict:
    """Transport options for kombu's filesystem transport in `directory`, whose folders are created if missing.
    (Lower case: not a setting; also used by tests/verification/test_embedded_broker.py.)"""
    options = {
        # Producers write to data_folder_out and consumers read data_folder_in: the same folder, as every process is
        # both. A consumer claims a message by moving it to processed_folder (an atomic rename on one file system).
        "data_folder_in": str(directory / "queue"),
        "data_folder_out": str(directory / "queue"),
        "processed_folder": str(directory / "processed"),
        "store_processed": True,  # else kombu moves claimed messages to /tmp; `make demo` empties this at each start
        "control_folder": str(directory / "control"),  # exchange bindings, shared (worker control: ping, /healthz)
        "polling_interval": 0.2,  # seconds between looks at the folder; the default (1 s) makes pings slow
    }
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    return options


if DEMO_BROKER_DIR:
    _broker_dir = Path(DEMO_BROKER_DIR)
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(
        _broker_dir if _broker_dir.is_absolute() else BASE_DIR / _broker_dir
    )
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-dossiers": {
        "task": "verification.tasks.verification_requests_sweep_stuck",
        "schedule": env.float("DOSSIER_SWEEP_SECONDS", default=60.0),
    },
    # Daily at 07:00 UTC: mentor review digests and trainee logging nudges (cases/reminders.py).
    "case-log-reminders": {
        "task": "cases.tasks.case_log_reminders_send",
        "schedule": crontab(hour=7, minute=0),
    },
}
# A dossier job still "generating" after this many seconds is considered lost and re-queued.
DOSSIER_STUCK_AFTER_SECONDS = env.int("DOSSIER_STUCK_AFTER_SECONDS", default=900)
# A rendering worker refreshes its claim (heartbeat_at) every third of this; a claim older than this is dead, and a
# redelivered message or the sweeper takes the work over at once instead of waiting DOSSIER_STUCK_AFTER_SECONDS.
DOSSIER_LEASE_SECONDS = env.int("DOSSIER_LEASE_SECONDS", default=60)
# Tests only: seconds the render pauses (in slices, heartbeating) so that a test can kill a worker or Redis mid-render.
DOSSIER_RENDER_DELAY_SECONDS = env.float("DOSSIER_RENDER_DELAY_SECONDS", default=0.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["programs.mfa.IsAuthenticatedWithRequiredMFA"],
    "EXCEPTION_HANDLER": "trainingportal.core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "trainingportal API",
    "DESCRIPTION": "Virtual / hybrid CMR Level II training: programs, enrollments, case logs, verification dossiers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema documents the API; it reveals no data, so tools may fetch it without signing in.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "delivery" choice set; name each one in the schema.
    "ENUM_NAME_OVERRIDES": {
        "EntryDeliveryEnum": "cases.models.CaseLogEntry.Delivery",
        "SessionDeliveryEnum": "training.models.TrainingSession.Delivery",
        "SignOffDeliveryEnum": "assessments.models.SignOff.Delivery",
        "DossierStatusEnum": "verification.models.VerificationRequest.Status",
        "ProgramVerificationStatusEnum": "programs.models.Program.VerificationStatus",
    },
    # Self-hosted Swagger UI (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

INVITATION_VALID_DAYS = 14
# How long a create's Idempotency-Key (API) or one-time form token is remembered.
IDEMPOTENCY_KEY_HOURS = 24

# Processes that render the parts of a long PDF (the dossier's case log) side by side; 0 = one per CPU.
PDF_WORKERS = env.int("PDF_WORKERS", default=0)
# Case-log rows per separately rendered part of a long dossier (fixed, so the same data gives the same bytes).
DOSSIER_LOG_PART_ROWS = env.int("DOSSIER_LOG_PART_ROWS", default=250)
