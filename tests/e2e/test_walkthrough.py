"""The walking skeleton in real Chromium: the same flow as tests/test_slice.py, but only through the UI.

Run: DJANGO_ALLOW_ASYNC_UNSAFE=true .venv/bin/pytest tests/e2e -q -p no:cacheprovider
Screenshots land in tmp/screens/.
"""

import datetime
import hashlib
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from cases.models import CaseLogEntry
from tests.factories import PASSWORD, EntryFactory
from tests.verification.helpers import make_complete
from trainees.models import Enrollment
from verification.models import VerificationRequest

from .conftest import PHONE

# serialized_rollback: the curriculum topics come from a data migration; a transactional test flushes them.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NEW_PASSWORD = "Str0ng-passphrase!"


def sign_in(page: Page, email: str, password: str = PASSWORD, totp=None) -> None:
    """Through the real log-in form; then, for users with MFA, the code form (`totp`: conftest.TotpCodes)."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    if totp is not None:
        expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
        page.get_by_label("Code").fill(totp.code_for(email))
        page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Welcome, "))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))


def invitation_link(email: str) -> str:
    messages = [m for m in mail.outbox if email in m.to]
    assert len(messages) == 1, [m.to for m in mail.outbox]
    return re.search(r"https?://\S+/programs/invitations/\S+/", messages[0].body).group(0)


def invite(page: Page, email: str, role: str, mentor: str | None = None) -> None:
    form = page.locator("form", has=page.get_by_role("button", name="Send invitation"))
    form.get_by_label("E-mail address").fill(email)
    form.get_by_label(role, exact=True).check()
    if mentor:
        form.get_by_label("Supervising mentor (trainees only)").select_option(label=mentor)
    form.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {email}.")


def accept_invitation(page: Page, link: str, full_name: str, live_server_url: str, screenshot: Path | None = None):
    assert link.startswith(live_server_url + "/"), link
    page.goto(link)
    expect(page.get_by_role("heading", name=re.compile(r"^Join "))).to_be_visible()
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    page.get_by_label("Your full name").fill(full_name)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account and join").click()
    expect(page).to_have_url(live_server_url + "/")
    expect(page.get_by_role("heading", name=f"Welcome, {full_name}")).to_be_visible()


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def hash_on_page(page: Page) -> str:
    """The value next to the "SHA-256…" term of a definition list."""
    value = page.locator("dt", has_text="SHA-256").locator("xpath=following-sibling::dd[1]").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", value), value
    return value


def assert_no_horizontal_scroll(page: Page) -> None:
    """Neither the page nor a box inside it (a table in an `overflow-x: auto` wrapper) scrolls sideways."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: scrollWidth {widths[0]} > innerWidth {widths[1]}"
    scrollers = page.evaluate(SIDEWAYS_SCROLLERS_JS)
    assert not scrollers, f"{page.url}: boxes scroll sideways: {scrollers}"


SIDEWAYS_SCROLLERS_JS = """() => [...document.querySelectorAll("main *:not(input, textarea, select)")]
  .filter(el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX) && el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} ${el.scrollWidth}px in ${el.clientWidth}px`)"""


def soft(failures: list[str], what: str, check, *args, **kwargs) -> None:
    """Run an assertion; record its failure (first line) instead of stopping the test."""
    try:
        check(*args, **kwargs)
    except AssertionError as exc:
        failures.append(f"{what}: " + str(exc).strip().splitlines()[0])


def test_walkthrough(new_page, site_url, screens, totp, director, reviewer, browser_problems):
    today = timezone.localdate()

    # 4a. The site's staff have given the director access; the director signs in (password + TOTP) and creates a
    # program.
    director.user_permissions.add(Permission.objects.get(codename="add_program"))
    dpage = new_page()
    sign_in(dpage, director.email, totp=totp)
    dpage.screenshot(path=screens / "director-dashboard.png", full_page=True)
    dpage.goto("/programs/new/")
    dpage.get_by_label("Name").fill("Browser Program")
    dpage.get_by_label("Institution").fill("Browser Heart Center")
    dpage.get_by_role("button", name="Create program").click()
    expect(dpage.get_by_role("heading", name="Browser Program", level=1)).to_be_visible()
    expect(dpage.get_by_role("status")).to_contain_text("Browser Program is created.")
    program_url = dpage.url

    # ... invites a mentor, who accepts from the e-mail link in a fresh browser context.
    invite(dpage, "mia@browser.test", "Mentor")
    mpage = new_page()
    accept_invitation(
        mpage, invitation_link("mia@browser.test"), "Mia Mentor", site_url, screenshot=screens / "invitation.png"
    )

    # ... then a trainee with that mentor.
    dpage.reload()
    expect(dpage.get_by_text("Mia Mentor — Mentor")).to_be_visible()
    invite(dpage, "theo@browser.test", "Trainee", mentor="Mia Mentor")
    dpage.screenshot(path=screens / "program.png", full_page=True)
    tpage = new_page()
    accept_invitation(tpage, invitation_link("theo@browser.test"), "Theo Trainee", site_url)
    tpage.screenshot(path=screens / "trainee-dashboard.png", full_page=True)

    # 4b. The trainee logs a case and submits it for review.
    tpage.get_by_role("link", name="Log a case").first.click()
    expect(tpage.get_by_role("heading", name="Log a case")).to_be_visible()
    tpage.get_by_label("Case reference").fill("BR-0001")
    tpage.get_by_label("Date").fill((today - datetime.timedelta(days=2)).isoformat())
    tpage.get_by_label("Indication").fill("Chest pain, unobstructed coronaries")
    tpage.get_by_label(re.compile(r"^Diagnosis")).select_option(label="Myocarditis")
    tpage.get_by_label("Field strength").select_option(label="3 T")
    tpage.get_by_role("group", name="Sequences").get_by_label("Late gadolinium enhancement").check()
    topics = tpage.get_by_role("group", name="Curriculum topics")
    topics.get_by_label("Infarction and viability").check()
    topics.get_by_label("Fibrosis and edema (tissue characterization)").check()
    roles = tpage.get_by_role("group", name="Your role")
    expect(roles.get_by_label("Interpreted")).to_be_checked()
    roles.get_by_label("Assisted at the console").check()
    tpage.get_by_label("Delivery").select_option(label="In person")
    tpage.get_by_label("Supervising mentor").select_option(label="Mia Mentor")
    tpage.get_by_label("Your impression").fill("Myocarditis pattern: subepicardial lateral LGE.")
    tpage.screenshot(path=screens / "case-form.png", full_page=True)
    tpage.get_by_role("button", name="Submit for review", exact=True).click()
    expect(tpage.get_by_role("heading", name="Case BR-0001")).to_be_visible()
    expect(tpage.get_by_role("status")).to_contain_text("Case BR-0001 submitted for review.")
    expect(tpage.get_by_text("Waiting for Mia Mentor")).to_be_visible()
    entry_url = tpage.url

    # 4c. The mentor records their CMR credential (a Level II ruleset counts cases signed by Level II or above),
    # then reviews the case from the inbox: blind first (new programs review blind), then agrees and signs.
    mpage.reload()
    mpage.screenshot(path=screens / "mentor-dashboard.png", full_page=True)
    nav(mpage, "Credentials")
    mpage.get_by_label("Level").select_option(label="Level II")
    mpage.get_by_label("Issuing body").fill("SCMR")
    mpage.get_by_label("Certificate or letter id").fill("SCMR-L2-20931")
    mpage.get_by_label("Issued on").fill("2022-03-01")
    mpage.get_by_role("button", name="Record the credential").click()
    expect(mpage.get_by_role("status")).to_contain_text("Recorded: SCMR Level II")
    mpage.screenshot(path=screens / "credentials.png", full_page=True)
    nav(mpage, "Review inbox")
    row = mpage.get_by_role("row", name=re.compile("BR-0001"))
    expect(row).to_contain_text("Theo Trainee")
    row.get_by_role("link", name="Review").click()
    expect(mpage.get_by_role("heading", name="Your read of case BR-0001")).to_be_visible()
    expect(mpage.get_by_text("Myocarditis pattern: subepicardial lateral LGE.")).to_have_count(0)
    mpage.get_by_label("Final diagnosis").fill("Acute myocarditis")
    mpage.get_by_role("button", name="Record my read and show the trainee's").click()
    expect(mpage.get_by_role("heading", name="Review case BR-0001")).to_be_visible()
    expect(mpage.get_by_text("Myocarditis pattern: subepicardial lateral LGE.")).to_be_visible()
    mpage.get_by_label("Feedback").fill("Agree. Note the subepicardial LGE in the lateral wall.")
    mpage.get_by_role("group", name="Do you agree with the trainee's read?").get_by_label("Agree", exact=True).check()
    mpage.screenshot(path=screens / "review.png", full_page=True)
    mpage.get_by_role("button", name="Sign", exact=True).click()
    expect(mpage.get_by_role("status")).to_contain_text("Case BR-0001 signed.")
    expect(mpage.get_by_role("heading", name="Review inbox")).to_be_visible()

    # ... the trainee sees it signed, and can no longer edit it.
    tpage.goto(entry_url)
    expect(tpage.get_by_text("Signed by Mia Mentor")).to_be_visible()
    expect(tpage.get_by_role("link", name="Edit")).to_have_count(0)
    expect(tpage.get_by_role("button", name="Submit for review")).to_have_count(0)

    # 4d. The signed case counts on the progress page.
    nav(tpage, "Dashboard")
    tpage.get_by_role("link", name="Your full dashboard").click()
    expect(tpage.get_by_role("heading", name=re.compile("^Theo Trainee — Level"))).to_be_visible()
    expect(tpage.locator(".progress-row").filter(has_text="1 / 150").first).to_be_visible()
    mentors = tpage.locator("dt", has_text="Mentors").locator("xpath=following-sibling::dd[1]")
    expect(mentors).to_have_text("Mia Mentor")
    tpage.screenshot(path=screens / "progress.png", full_page=True)

    # 4e. The trainee completes their training (seeded here: months carried forward, 50 cases performed in person
    # across the 15 topics, all competencies but one signed off). The director signs the final determination on the
    # trainee's dossiers page (linked from the progress page), re-authenticating, then requests a dossier and
    # submits it to SCMR from the page that shows what is submitted.
    enrollment = Enrollment.objects.get(trainee__email="theo@browser.test")
    make_complete(enrollment, enrollment.mentors.get(), unsigned=("stress-testing",))

    # ... the mentor signs off the last competency on its page: in person (stress testing needs it), at the
    # sign-off level, with an in-person case of the log as evidence.
    mpage.goto(f"/enrollments/{enrollment.pk}/competencies/")
    expect(mpage.get_by_text("13 of 14")).to_be_visible()
    mpage.get_by_role("link", name="Sign off Pharmacologic stress testing: patient supervision and safety").click()
    expect(
        mpage.get_by_role("heading", name="Pharmacologic stress testing: patient supervision and safety")
    ).to_be_visible()
    mpage.get_by_label("In person").check()
    mpage.get_by_label(re.compile("4 — Performs independently")).check()
    mpage.get_by_label("Entries of the case log").select_option(index=0)
    mpage.get_by_label("Note").fill("Supervised a regadenoson stress study from screening to recovery.")
    mpage.screenshot(path=screens / "sign-off.png", full_page=True)
    mpage.get_by_role("button", name="Sign off", exact=True).click()
    expect(mpage.get_by_role("status")).to_contain_text("signed off for Theo Trainee")
    expect(mpage.get_by_text("14 of 14")).to_be_visible()
    mpage.screenshot(path=screens / "competencies.png", full_page=True)
    dpage.goto(program_url)
    dpage.get_by_role("link", name="Theo Trainee").click()
    dpage.get_by_role("link", name="Request a verification dossier, or see the earlier ones").click()
    expect(dpage.get_by_text("No dossier yet.")).to_be_visible()
    expect(dpage.get_by_text("No final determination signed yet.")).to_be_visible()
    dpage.get_by_role("link", name="Sign the final determination").click()
    expect(dpage.get_by_role("heading", name="Final determination")).to_be_visible()
    dpage.get_by_label("Competent to perform and interpret independently").check()
    dpage.get_by_label("Statement").fill("Competent to perform and interpret CMR examinations independently.")
    expect(dpage.get_by_text("All 14 competencies signed off.")).to_be_visible()
    dpage.get_by_label("I make this attestation as the program director.").check()
    dpage.get_by_label("Your password").fill(PASSWORD)
    dpage.get_by_label("Code from your authenticator app").fill(totp.code_for(director.email))
    dpage.screenshot(path=screens / "determination.png", full_page=True)
    dpage.get_by_role("button", name="Sign the determination").click()
    expect(dpage.get_by_role("status")).to_contain_text("The final determination is signed.")
    dpage.get_by_role("button", name="Request a verification dossier").click()
    expect(dpage.get_by_role("heading", name="Verification dossier")).to_be_visible()
    expect(dpage.locator("#vr-status")).to_have_text("Ready", timeout=60_000)
    dpage.screenshot(path=screens / "dossier-status.png", full_page=True)
    dpage.get_by_role("link", name="Submit to SCMR…").click()
    expect(dpage.get_by_text("Every requirement is met and the determination is signed and current.")).to_be_visible()
    dpage.screenshot(path=screens / "dossier-submit.png", full_page=True)
    dpage.get_by_role("button", name="Submit to SCMR").click()
    expect(dpage.get_by_role("status")).to_contain_text("The dossier is submitted to SCMR for verification.")
    vr = VerificationRequest.objects.get(enrollment__trainee__email="theo@browser.test")
    assert vr.status == VerificationRequest.Status.SUBMITTED

    # 4f. The reviewer signs in (password + TOTP), downloads the PDF from the queue and checks its hash.
    rpage = new_page()
    sign_in(rpage, reviewer.email, totp=totp)
    rpage.screenshot(path=screens / "reviewer-dashboard.png", full_page=True)
    nav(rpage, "Verification queue")
    row = rpage.get_by_role("row", name=re.compile("Theo Trainee"))
    with rpage.expect_download() as download_info:
        row.get_by_role("link", name="PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    row.get_by_role("link", name="Open").click()
    expect(rpage.get_by_role("heading", name="A sample of the case log")).to_be_visible()
    rpage.screenshot(path=screens / "reviewer-dossier.png", full_page=True)
    shown = hash_on_page(rpage)
    assert hashlib.sha256(pdf).hexdigest() == shown == vr.sha256
    code = rpage.locator("dt", has_text="Verification code").locator("xpath=following-sibling::dd[1]").inner_text()
    assert code.strip() == vr.code

    # ... verifies the trainee (the gate holds: every requirement met, the determination current) ...
    rpage.get_by_label("Verify this trainee").check()
    rpage.get_by_role("button", name="Record decision").click()
    expect(rpage.get_by_role("status")).to_contain_text("Decision recorded")
    vr.refresh_from_db()
    assert vr.status == VerificationRequest.Status.VERIFIED

    # ... and anyone can check it on the public page: the genuine PDF dropped on it is "genuine", a tampered copy not.
    apage = new_page()
    apage.goto(f"/verify/{vr.code}/")
    expect(apage.get_by_role("heading", name="Dossier check")).to_be_visible()
    expect(apage.get_by_text("Verified by SCMR")).to_be_visible()
    assert hash_on_page(apage) == shown
    expect(apage.get_by_text("BR-0001")).to_have_count(0)
    genuine = screens.parent / "genuine.pdf"
    genuine.write_bytes(pdf)
    apage.locator("#pdf-file").set_input_files(str(genuine))
    expect(apage.locator("#pdf-check-result")).to_contain_text("Genuine")
    apage.screenshot(path=screens / "verify.png", full_page=True)
    tampered = screens.parent / "tampered.pdf"
    tampered.write_bytes(pdf + b"\n%% one byte more than the genuine file\n")
    apage.locator("#pdf-file").set_input_files(str(tampered))
    expect(apage.locator("#pdf-check-result")).to_contain_text("Does not match")

    assert browser_problems == []


def test_phone_layout(new_page, screens, mentor, trainee, enrollment, browser_problems):
    """At 390×844 the trainee's case form and the mentor's inbox fit the width and their main button is on screen.

    Phone screenshots are of the viewport (what the user sees): a full-page capture with is_mobile draws the sticky
    form-actions bar in the middle of the page."""
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    assert entry.status == CaseLogEntry.Status.SUBMITTED
    # Every check runs (and every screenshot is taken) before the test reports what failed.
    failures = []

    # The trainee's case form: no sideways scrolling, "Submit for review" reachable and fully on screen.
    tpage = new_page(**PHONE)
    sign_in(tpage, trainee.email)
    tpage.get_by_role("link", name="Log a case").first.click()
    expect(tpage.get_by_role("heading", name="Log a case")).to_be_visible()
    tpage.screenshot(path=screens / "phone-case-form.png")
    soft(failures, "case form", assert_no_horizontal_scroll, tpage)
    submit = tpage.get_by_role("button", name="Submit for review", exact=True)
    submit.scroll_into_view_if_needed()
    soft(failures, "case form, Submit for review", expect(submit).to_be_visible)
    soft(failures, "case form, Submit for review", expect(submit).to_be_in_viewport, ratio=1)
    tpage.get_by_label("Key measurements").scroll_into_view_if_needed()
    tpage.screenshot(path=screens / "phone-case-form-end.png")

    # The mentor's review inbox: the same, for the "Review" button of the waiting entry.
    mpage = new_page(**PHONE)
    sign_in(mpage, mentor.email)
    nav(mpage, "Review inbox")
    expect(mpage.get_by_role("heading", name="Review inbox")).to_be_visible()
    mpage.screenshot(path=screens / "phone-review-inbox.png", full_page=True)
    soft(failures, "review inbox", assert_no_horizontal_scroll, mpage)
    review = mpage.get_by_role("row", name=re.compile(entry.case.reference)).get_by_role("link", name="Review")
    soft(failures, "review inbox, Review button", expect(review).to_be_visible)
    # ratio=1: entirely visible, not clipped by the table's own sideways scrolling.
    soft(failures, "review inbox, Review button (entirely)", expect(review).to_be_in_viewport, ratio=1)

    assert not failures, "\n".join(failures)
    assert browser_problems == []
