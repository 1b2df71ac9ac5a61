"""Program verification in real Chromium: the director completes the profile and submits, an SCMR reviewer requests a
change, the director fixes it and resubmits, the reviewer verifies.

Run: DJANGO_ALLOW_ASYNC_UNSAFE=true .venv/bin/pytest tests/e2e/test_program_verification_e2e.py -q -p no:cacheprovider
Screenshots land in tmp/screens/.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from programs.models import Program

from .conftest import PHONE
from .test_walkthrough import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def plan_pdf() -> bytes:
    from weasyprint import HTML

    return HTML(string="<h1>Remote training plan</h1><p>Live acquisition weekly, console shared.</p>").write_pdf()


def fill_profile(page: Page) -> None:
    page.get_by_label("Years of on-site training").fill("12")
    page.get_by_label("Trainees trained on site").fill("40")
    page.get_by_label("Track record evidence").fill("Level II fellowship on site since 2012.")
    page.get_by_label("Didactic source").select_option(label="External pre-recorded series (e.g. SCMR)")
    page.get_by_label("Video platform").fill("Hospital-approved video platform")
    page.get_by_label("Console sharing method").fill("Console screen shared through a capture card")
    page.get_by_label("Display meets local standards for image review").check()
    page.get_by_label("Video set-up attestation (resolution, diagnostic display)").fill("Diagnostic display.")
    page.get_by_label("Privacy attestation").check()
    page.get_by_label("Remote training plan (PDF, at most 10 MB)").set_input_files(
        {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": plan_pdf()}
    )


def line_status(page: Page, code: str):
    return page.locator(f"#line-{code}")


def test_director_submits_reviewer_requests_change_then_verifies(
    new_page, live_server, director, program, reviewer, totp, screens, browser_problems
):
    profile_url = f"/program-verification/{program.pk}/profile/"
    review_url = f"/program-verification/{program.pk}/review/"

    # The director completes the profile; the checklist follows.
    dpage = new_page()
    sign_in(dpage, director.email, totp=totp)
    dpage.goto(profile_url)
    expect(dpage.get_by_role("heading", name="Program profile")).to_be_visible()
    expect(line_status(dpage, "S9")).to_contain_text("Not met")
    fill_profile(dpage)
    dpage.get_by_role("button", name="Save profile").click()
    expect(dpage.get_by_role("status")).to_contain_text("The program profile is saved.")
    expect(line_status(dpage, "S9")).to_contain_text("Met")
    expect(line_status(dpage, "S11")).to_contain_text("not yet submitted")
    dpage.screenshot(path=screens / "program-profile-desktop.png", full_page=True)
    phone = new_page(**PHONE)
    sign_in(phone, director.email, totp=totp)
    phone.goto(profile_url)
    phone.screenshot(path=screens / "program-profile-phone.png", full_page=True)
    dpage.get_by_role("button", name="Submit to SCMR").click()
    expect(dpage.get_by_role("status")).to_contain_text("Submitted to SCMR")
    expect(dpage.get_by_text("The profile is locked")).to_be_visible()

    # The reviewer takes it from the queue and requests a change on S9.
    rpage = new_page()
    sign_in(rpage, reviewer.email, totp=totp)
    rpage.goto("/program-verification/queue/")
    rpage.get_by_role("row", name=re.compile(program.name)).get_by_role("link", name="Open").click()
    rpage.get_by_role("button", name="Take this review").click()
    expect(rpage.get_by_role("status")).to_contain_text(f"You are reviewing {program.name}.")
    rpage.get_by_label("Request changes").check()
    rpage.get_by_label("Comment (the reason, for changes and declines)").fill("Describe the display resolution.")
    rpage.get_by_text("Comments per checklist line").click()
    rpage.get_by_label("Comment on S9").fill("Which resolution and calibration?")
    rpage.screenshot(path=screens / "program-review-desktop.png", full_page=True)
    rphone = new_page(**PHONE)
    sign_in(rphone, reviewer.email, totp=totp)
    rphone.goto(review_url)
    rphone.screenshot(path=screens / "program-review-phone.png", full_page=True)
    rpage.get_by_role("button", name="Record decision").click()
    expect(rpage.get_by_role("status")).to_contain_text("Changes requested")

    # The director sees the request, fixes the set-up description and resubmits.
    dpage.goto(profile_url)
    expect(dpage.get_by_text("SCMR requested changes: see the history")).to_be_visible()
    expect(line_status(dpage, "S9")).to_contain_text("Which resolution and calibration?")
    dpage.get_by_label("Video set-up attestation (resolution, diagnostic display)").fill(
        "2560x1440 diagnostic display calibrated to DICOM GSDF."
    )
    dpage.get_by_role("button", name="Save profile").click()
    expect(dpage.get_by_role("status")).to_contain_text("The program profile is saved.")
    dpage.get_by_role("button", name="Submit to SCMR").click()
    expect(dpage.get_by_role("status")).to_contain_text("Submitted to SCMR")

    # The same reviewer gets the new round and verifies it.
    rpage.goto(review_url)
    expect(rpage.get_by_text("2560x1440")).to_be_visible()
    rpage.get_by_label("Verify the program").check()
    rpage.get_by_role("button", name="Record decision").click()
    expect(rpage.get_by_role("status")).to_contain_text("Verified by SCMR")
    expect(line_status(rpage, "S11")).to_contain_text("Met")

    dpage.goto(profile_url)
    history = dpage.get_by_role("region", name="Verification history")
    for step in ("Submitted", "Review started", "Changes requested", "Verified"):
        expect(history).to_contain_text(step)
    program.refresh_from_db()
    assert program.verification_status == Program.VerificationStatus.VERIFIED
    assert {m.subject.split("] ")[1] for m in mail.outbox} >= {
        f"{program.name} submitted for SCMR program verification",
        f"{program.name}: Changes requested",
        f"{program.name}: Verified by SCMR",
    }
    assert not browser_problems, browser_problems
