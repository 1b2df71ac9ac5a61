"""The case-log form and the review inbox with the keyboard alone: Tab reaches every control of the page's main form
in order, each shows where the focus is, and the form is sent with the keyboard."""

import pytest
from django.urls import reverse

from cases.models import CaseLogEntry
from tests.factories import EntryFactory

from .test_accessibility import _login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const visible = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
  return {id: el.id || el.name || el.textContent.trim().slice(0, 40), tag: el.tagName, visible,
          inForm: !!el.closest('main form')};
}"""
CONTROLS = """() => Array.from(document.querySelectorAll('main form input, main form select, main form textarea, main form button'))
  .filter(el => el.type !== 'hidden' && !el.disabled && el.offsetParent !== null).length"""


def _tab_through(page, limit: int = 400) -> list[dict]:
    """Each control Tab stops on, once, in order (a date field takes several Tabs: its day, month and year)."""
    seen: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        if seen and focused == seen[-1]:
            continue
        if len(seen) > 1 and focused == seen[0]:
            break  # round the page once
        seen.append(focused)
    return seen


def test_the_case_form_is_usable_with_the_keyboard(browser, live_server, trainee, enrollment, mentor):
    context = browser.new_context(base_url=live_server.url)
    _login(context, trainee, live_server.url)
    page = context.new_page()
    page.goto(reverse("cases:create"))
    focused = _tab_through(page)
    in_form = [f for f in focused if f["inForm"]]
    radios_and_boxes = page.evaluate(
        "() => document.querySelectorAll('main form input[type=radio], main form input[type=checkbox]').length"
    )
    # Every control is reached (a radio group is one Tab stop), and every one shows its focus.
    assert len({f["id"] for f in in_form}) >= page.evaluate(CONTROLS) - radios_and_boxes
    assert all(f["visible"] for f in in_form), [f for f in in_form if not f["visible"]]
    # Filled and sent from the keyboard: focus the reference, type, Enter.
    page.get_by_label("Case reference").focus()
    page.keyboard.type("KB-0001")
    page.get_by_role("group", name="Curriculum topics").get_by_label("Infarction and viability").focus()
    page.keyboard.press("Space")
    page.get_by_label("Your impression").focus()
    page.keyboard.type("Normal biventricular size and function.")
    page.get_by_role("button", name="Save draft").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    errors = page.locator(".error, .form-errors").all_inner_texts()
    assert CaseLogEntry.objects.filter(enrollment=enrollment, case__reference="KB-0001").exists(), errors
    context.close()


def test_the_review_inbox_is_usable_with_the_keyboard(browser, live_server, mentor, enrollment):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True, case__reference="KB-INBOX-1")
    context = browser.new_context(base_url=live_server.url)
    _login(context, mentor, live_server.url)
    page = context.new_page()
    page.goto(reverse("cases:inbox"))
    focused = _tab_through(page)
    assert any("Review" in f["id"] for f in focused), focused
    assert all(f["visible"] for f in focused), [f for f in focused if not f["visible"]]
    page.get_by_role("link", name="Review").first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/review/" in page.url or "KB-INBOX-1" in page.content()
    context.close()
