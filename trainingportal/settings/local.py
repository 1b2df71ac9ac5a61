"""Local development and `make demo`: DEBUG on, SQLite and eager tasks unless DATABASE_URL / REDIS_URL are set."""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("SECRET_KEY", "local-dev-only-not-secret")

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

# Demo convenience: the seeded director and reviewer have TOTP enabled; with DEBUG on, allauth accepts this code
# instead of a real one (allauth refuses it when DEBUG is off). Set MFA_DEMO_BYPASS_CODE="" to use real codes.
MFA_TOTP_INSECURE_BYPASS_CODE = env("MFA_DEMO_BYPASS_CODE", default="123456") or None
