"""Browser tests: Playwright driving the Debian Chromium against pytest-django's live server.

Never `playwright install`: the browser is /usr/bin/chromium (apt-get install chromium). Without it the tests are
skipped, except on CI (CI=true), where a missing browser is a failure: CI must run them.
"""

import os
import time
from pathlib import Path

import pytest

# The sync Playwright API runs an event loop in this thread; Django refuses ORM calls from it without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENS = Path(__file__).resolve().parents[2] / "tmp" / "screens"
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def _chromium_missing_reason() -> str | None:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    return f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)"


def pytest_runtest_setup(item):
    if item.get_closest_marker("e2e") is None:
        return
    reason = _chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: the browser tests must run on CI.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def site_url(settings, live_server):
    """Links in e-mails (invitations) point to the live server."""
    settings.SITE_URL = live_server.url
    return live_server.url


@pytest.fixture
def screens():
    SCREENS.mkdir(parents=True, exist_ok=True)
    return SCREENS


@pytest.fixture
def browser_problems():
    """What the browser saw go wrong: JavaScript errors, console errors, HTTP responses >= 400."""
    return []


@pytest.fixture
def new_page(browser, live_server, browser_problems):
    """new_page(**context_options) -> a page in a fresh browser context (own cookies), closed after the test."""
    contexts = []

    def make(**options):
        options = {**DESKTOP, **options}
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(15_000)
        # Requesting a dossier renders the PDF inside the request in tests (eager Celery): give it time.
        context.set_default_navigation_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: browser_problems.append(f"JavaScript error on {page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: msg.type == "error" and browser_problems.append(f"console error on {page.url}: {msg.text}"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and browser_problems.append(f"HTTP {r.status} for {r.request.method} {r.url}"),
        )
        return page

    yield make
    for context in contexts:
        context.close()


class TotpCodes:
    """Current TOTP codes for a secret, computed when the code form is on screen.

    allauth accepts only the current 30-second window (MFA_TOTP_TOLERANCE 0) and refuses a code twice (cache), so
    a code is not handed out in the last seconds of a window, nor twice to the same user: both wait for the next one.
    """

    MARGIN = 5  # seconds a code must stay valid for the browser to submit it

    def __init__(self, secret: str):
        self.secret = secret
        self.used: set[tuple[str, int]] = set()

    def code_for(self, email: str) -> str:
        from allauth.mfa import app_settings
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

        period = app_settings.TOTP_PERIOD
        now = time.time()
        counter = int(now // period)
        if (email, counter) in self.used or period - now % period < self.MARGIN:
            time.sleep(period - now % period + 0.2)
            counter = int(time.time() // period)
        self.used.add((email, counter))
        return format_hotp_value(hotp_value(self.secret, counter))


@pytest.fixture
def totp():
    from tests.conftest import TOTP_SECRET

    return TotpCodes(TOTP_SECRET)
