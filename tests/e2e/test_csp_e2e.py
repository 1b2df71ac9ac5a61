"""In real Chromium: the main pages of every role run under the Content-Security-Policy (no inline script or style)
without a single violation in the console (issue 11, item 11). Chromium reports each refused inline script, style
attribute or resource as a console error, which the new_page fixture collects in browser_problems."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import AttendanceFactory, EntryFactory, SessionFactory

from .test_walkthrough import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def training_data(program, enrollment, mentor, other_enrollment):
    for _ in range(2):
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, status="submitted")
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    session = SessionFactory(program=program, mentor=mentor, title="Planning clinic")
    AttendanceFactory(session=session, enrollment=enrollment)
    return {"session": session}


def _visit_all(page, urls: list[str]) -> list[str]:
    headers = []
    for url in urls:
        response = page.goto(url)
        assert response.status == 200, url
        headers.append(response.header_value("content-security-policy") or "")
        expect(page.locator("main, #swagger-ui").first).to_be_visible()
    return headers


def _csp_problems(problems: list[str]) -> list[str]:
    return [p for p in problems if re.search(r"Content Security Policy|Refused to", p)]


def test_main_pages_of_every_role_show_no_csp_violation(
    new_page, program, enrollment, mentor, director, trainee, training_data, totp, browser_problems
):
    session = training_data["session"]
    pages = {
        trainee: [
            "/",
            reverse("cases:list"),
            reverse("cases:create"),
            reverse("trainees:progress", args=[enrollment.pk]),
            reverse("sessions:detail", args=[session.pk]),
            reverse("sessions:list", args=[program.pk]),
        ],
        mentor: [
            "/",
            reverse("cases:inbox"),
            reverse("trainees:progress", args=[enrollment.pk]),
            reverse("programs:dashboard", args=[program.pk]),
            reverse("sessions:detail", args=[session.pk]),
        ],
        director: [
            "/",
            reverse("programs:detail", args=[program.pk]),
            reverse("programs:dashboard", args=[program.pk]),
            reverse("dossiers:for_enrollment", args=[enrollment.pk]),
            reverse("verification:profile", args=[program.pk]),
            reverse("mfa_index"),
        ],
    }
    for user, urls in pages.items():
        page = new_page()
        sign_in(page, user.email, totp=totp if user == director else None)
        for csp in _visit_all(page, urls):
            assert "script-src 'self';" in csp and "style-src 'self';" in csp
        page.context.close()
    assert not _csp_problems(browser_problems), browser_problems
    assert not browser_problems


def test_swagger_ui_runs_under_its_own_policy(new_page, browser_problems):
    page = new_page()
    response = page.goto(reverse("api-docs"))
    assert "'nonce-" in response.header_value("content-security-policy")
    expect(page.get_by_text("trainingportal API").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert not _csp_problems(browser_problems), browser_problems
