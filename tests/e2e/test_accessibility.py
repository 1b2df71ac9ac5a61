"""Every page of every role through axe-core (axe-playwright-python, the axe engine it bundles) in Chromium: no
serious or critical violation. The pages are the HTML pages of the permission matrix that each role may open."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse
from django.utils import timezone

from tests.factories import EntryFactory, SessionFactory, VerificationRequestFactory
from tests.verification.helpers import make_complete

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKING = {"serious", "critical"}


def _login(context, user, live_server_url: str) -> None:
    """A signed-in session cookie for `user` (the log-in pages themselves are checked anonymously)."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    host = live_server_url.split("//", 1)[1].split(":")[0]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "domain": host, "path": "/"}]
    )


@pytest.fixture
def pages(director, mentor, trainee, enrollment, reviewer, program):
    make_complete(enrollment, mentor)
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    submitted = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    session = SessionFactory(program=program, mentor=mentor, starts_at=timezone.now() + timezone.timedelta(days=1))
    vr = VerificationRequestFactory(enrollment=enrollment, status="submitted", sha256="0" * 64)
    e = enrollment.pk
    return {
        None: [reverse("account_login"), reverse("account_signup"), reverse("verify", args=[vr.code])],
        trainee: [
            "/", reverse("trainees:progress", args=[e]), reverse("trainees:competencies", args=[e]),
            reverse("trainees:sign_off", args=[e, "stress-testing"]), reverse("cases:list"),
            reverse("cases:create"), reverse("cases:edit", args=[draft.pk]), reverse("cases:detail", args=[draft.pk]),
            reverse("sessions:list", args=[program.pk]), reverse("sessions:detail", args=[session.pk]), reverse("sessions:calendar"),
            reverse("cases_io:import"), reverse("accounts:api_token"),
        ],
        mentor: [
            "/", reverse("cases:inbox"), reverse("cases:review", args=[submitted.pk]),
            reverse("trainees:sign_off", args=[e, "lge-viability"]), reverse("cases:group_review_create"),
            reverse("accounts:credentials"), reverse("sessions:lectures", args=[program.pk]),
        ],
        director: [
            "/", reverse("programs:list"), reverse("programs:detail", args=[program.pk]),
            reverse("programs:dashboard", args=[program.pk]), reverse("dossiers:for_enrollment", args=[e]),
            reverse("dossiers:determination", args=[e]), reverse("dossiers:detail", args=[vr.pk]),
            reverse("verification:profile", args=[program.pk]), reverse("sessions:create", args=[program.pk]),
        ],
        reviewer: ["/", reverse("dossiers:queue"), reverse("verification:queue"), reverse("dossiers:detail", args=[vr.pk])],
    }  # fmt: skip


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_no_serious_or_critical_accessibility_violation(browser, live_server, pages, viewport):
    axe = Axe()
    found = []
    for user, urls in pages.items():
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        if user is not None:
            _login(context, user, live_server.url)
        page = context.new_page()
        for url in urls:
            response = page.goto(url)
            assert response.status == 200, f"{url} as {user}: HTTP {response.status}"
            results = axe.run(page)
            for violation in results.response["violations"]:
                if violation["impact"] in BLOCKING:
                    targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
                    found.append(
                        f"{url} as {user or 'anonymous'}: {violation['id']} ({violation['impact']}): {targets}"
                    )
        context.close()
    assert not found, "\n".join(found)
