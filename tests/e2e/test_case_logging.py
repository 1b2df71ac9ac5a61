"""In real Chromium: logging a case from an empty form takes at most 8 user actions, and a mentor signs 20
pending entries in at most 3. Every click, fill and key press counts as one action."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cases.models import CaseLogEntry
from tests.factories import EntryFactory

from .test_walkthrough import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class Actions:
    """Counts the user's actions; the test drives the page only through it."""

    def __init__(self, page: Page):
        self.page, self.count = page, 0

    def click(self, locator):
        self.count += 1
        locator.click()

    def fill(self, locator, text: str):
        self.count += 1
        locator.fill(text)

    def press(self, locator, key: str):
        self.count += 1
        locator.press(key)

    def select(self, locator, value: str):
        self.count += 1
        locator.select_option(value)


def test_a_case_is_logged_in_at_most_8_actions(new_page, screens, trainee, enrollment, mentor, browser_problems):
    page = new_page()
    sign_in(page, trainee.email)
    user = Actions(page)

    user.click(page.get_by_role("link", name="Log a case").first)  # 1
    expect(page.get_by_role("heading", name="Log a case")).to_be_visible()
    # The reference field has the focus; the date is today, the role "interpreted", the only mentor chosen.
    user.fill(page.get_by_label("Case reference"), "EX-KEYB-001")  # 2
    user.select(page.get_by_label(re.compile(r"^Diagnosis")), "dcm")  # 3: brings its curriculum topics
    topic = page.get_by_label("Find a topic")
    user.fill(topic, "pericard")  # 4
    user.press(topic, "Enter")  # 5: ticks "Pericardial disease" as well
    user.select(page.get_by_label("Field strength"), "3T")  # 6
    user.fill(page.get_by_label("LVEF (%)"), "34")  # 7
    user.click(page.get_by_role("button", name="Submit for review", exact=True))  # 8

    expect(page.get_by_role("status")).to_contain_text("Case EX-KEYB-001 submitted for review.")
    page.screenshot(path=screens / "case-logged.png")
    assert user.count <= 8, user.count
    entry = CaseLogEntry.objects.get(case__reference="EX-KEYB-001")
    assert entry.status == "submitted" and entry.lvef == 34 and entry.supervising_mentor == mentor
    assert entry.case.diagnosis == "dcm" and entry.case.field_strength == "3T"
    assert {c.slug for c in entry.case.categories.all()} == {
        "cardiomyopathy", "ventricular-function", "fibrosis-edema", "pericardial"
    }  # fmt: skip
    assert entry.performed_on == timezone.localdate() and entry.interpreted
    # The next case starts from the same scanner.
    page.goto("/cases/new/")
    expect(page.get_by_label("Field strength")).to_have_value("3T")
    assert browser_problems == []


def test_the_case_form_fits_a_phone(new_page, screens, trainee, enrollment, mentor, browser_problems):
    from .conftest import PHONE

    page = new_page(**PHONE)
    sign_in(page, trainee.email)
    page.goto("/cases/new/")
    expect(page.get_by_role("heading", name="Log a case")).to_be_visible()
    page.screenshot(path=screens / "case-form-phone.png", full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    assert browser_problems == []


def test_a_mentor_signs_20_pending_entries_in_at_most_3_actions(
    new_page, screens, mentor, enrollment, browser_problems
):
    entries = [EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True) for _ in range(20)]
    page = new_page()
    sign_in(page, mentor.email)
    page.goto("/cases/review/")  # the inbox is the mentor's start; opening it is not part of the signing
    user = Actions(page)

    user.click(page.get_by_label("Select all on this page"))  # 1
    user.click(page.get_by_role("button", name="Sign selected…"))  # 2
    expect(page.get_by_role("heading", name="Sign 20 entries")).to_be_visible()
    # The confirmation lists what is signed: every case reference is on the page.
    for entry in entries:
        expect(page.get_by_role("cell", name=entry.case.reference)).to_be_visible()
    page.screenshot(path=screens / "batch-sign-confirm.png", full_page=True)
    user.click(page.get_by_role("button", name="Sign 20 entries"))  # 3

    expect(page.get_by_role("status")).to_contain_text("Signed 20 entries.")
    assert user.count <= 3, user.count
    assert CaseLogEntry.objects.filter(pk__in=[e.pk for e in entries], status="signed", signed_by=mentor).count() == 20
    assert browser_problems == []
