"""Blind review (program.blind_review), on the web: the mentor records their own read before seeing the trainee's.
Until then the review page, the entry page and the inbox hide the trainee's read and signing is refused; after it,
both reads are shown side by side with the agreement pre-selected from their comparison."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases import services
from cases.models import CaseLogEntry

from .helpers import TRAINEE_DIAGNOSIS, TRAINEE_FINDINGS, TRAINEE_IMPRESSION, _events, _with_read, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


def _selected_option(html: str, name: str) -> str | None:
    """The value of the selected option of <select name=`name`>, or None if nothing is selected."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name!r}> on the page"
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return chosen.group(1) if chosen else None


def test_blind_review_page_asks_for_the_mentors_read_and_hides_the_trainees(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = web(mentor).get(reverse("cases:review", args=[entry.pk]))

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cases/entry_review_blind.html"
    html = response.content.decode()
    assert "Record my read and show the trainee" in html
    assert 'name="lvef"' in html and 'name="final_diagnosis"' in html
    for trainee_text in (TRAINEE_IMPRESSION, TRAINEE_FINDINGS, TRAINEE_DIAGNOSIS, "<h3>Trainee's read</h3>"):
        assert trainee_text not in html
    assert "reads" not in response.context


def test_blind_review_refuses_to_sign_before_the_mentors_read(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    # The form on the page is the mentor's read: a sign POST lands there and records nothing.
    response = web(mentor).post(
        reverse("cases:review", args=[entry.pk]), {"action": "sign", "mentor_feedback": "Agree."}
    )
    assert response.status_code == 400  # refused: the page comes back with the error
    assert response.context["form"].non_field_errors()
    # And the service refuses, whoever calls it.
    with pytest.raises(ValidationError) as exc_info:
        services.entry_sign(actor=mentor, entry=entry, feedback="Agree.", agrees=True)
    assert "blind" in exc_info.value.messages[0]

    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED and entry.signed_by is None and entry.mentor_read_at is None
    assert _events(entry, "entry.sign") == []


def test_blind_review_after_the_mentors_read_shows_both_reads_and_defaults_the_agreement(
    blind_program, enrollment, mentor
):
    entry = _with_read(enrollment, mentor)
    client = web(mentor)
    url = reverse("cases:review", args=[entry.pk])

    # LVEF 52 vs 48 agrees (4 points); EDVi 78 vs 70 does not (more than 10 % of 78); LGE and diagnosis agree.
    response = client.post(
        url, {"lvef": "52", "lv_edvi": "78", "lge_pattern": "diffuse", "final_diagnosis": " cardiac AMYLOIDOSIS "}
    )
    assert response.status_code == 302 and response.url == url
    entry.refresh_from_db()
    assert entry.mentor_read_at is not None
    assert (entry.mentor_lvef, entry.mentor_lv_edvi, entry.mentor_lge_pattern) == (52, 78, "diffuse")
    assert entry.mentor_final_diagnosis == "cardiac AMYLOIDOSIS"
    [event] = _events(entry, "entry.mentor_read")
    assert event.actor == mentor and event.after["lvef"] == 52

    response = client.get(url)
    assert [t.name for t in response.templates][0] == "cases/entry_review.html"
    html = response.content.decode()
    assert TRAINEE_IMPRESSION in html and TRAINEE_DIAGNOSIS in html and "cardiac AMYLOIDOSIS" in html
    rows = {r["label"]: (r["trainee"], r["mentor"]) for r in response.context["reads"]}
    assert rows == {
        "LVEF (%)": (48, 52),
        "LV EDV index (ml/m²)": (70, 78),
        "LGE pattern": ("Diffuse / patchy", "Diffuse / patchy"),
        "Final diagnosis": (TRAINEE_DIAGNOSIS, "cardiac AMYLOIDOSIS"),
    }
    assert '<th scope="col">Mentor</th>' in html  # the comparison table has the mentor's column
    expected = {"lvef": "yes", "lv_edvi": "no", "lge_pattern": "yes", "final_diagnosis": "yes"}
    assert {name: _selected_option(html, f"agree_{name}") for name in expected} == expected

    # Signing with the defaults as shown records them.
    response = client.post(
        url, {"action": "sign", "mentor_feedback": "Good read.", **{f"agree_{k}": v for k, v in expected.items()}}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == Status.SIGNED
    assert entry.agreement == {"lvef": True, "lv_edvi": False, "lge_pattern": True, "final_diagnosis": True}


def test_blind_review_mentor_read_is_recorded_only_once(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)
    services.entry_record_mentor_read(actor=mentor, entry=entry, lvef=50)

    with pytest.raises(ValidationError):
        services.entry_record_mentor_read(actor=mentor, entry=entry, lvef=30, final_diagnosis="Something else")

    entry.refresh_from_db()
    assert entry.mentor_lvef == 50 and entry.mentor_final_diagnosis == ""
    assert len(_events(entry, "entry.mentor_read")) == 1
    # The page no longer offers the read form: posting the read fields again changes nothing either.
    response = web(mentor).post(reverse("cases:review", args=[entry.pk]), {"lvef": "30"})
    assert response.status_code == 400  # refused: the page comes back with the error
    entry.refresh_from_db()
    assert entry.mentor_lvef == 50 and entry.status == Status.SUBMITTED


def test_blind_review_needs_at_least_one_item_of_the_mentors_read(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    # What a browser sends for the empty form (an empty POST would leave the form unbound).
    blank = {"lvef": "", "lv_edvi": "", "lge_pattern": "", "final_diagnosis": ""}
    response = web(mentor).post(reverse("cases:review", args=[entry.pk]), blank)

    assert response.status_code == 400  # refused: the page comes back with the error
    assert response.context["form"].non_field_errors()
    entry.refresh_from_db()
    assert entry.mentor_read_at is None


def test_blind_review_hides_the_trainees_read_on_the_entry_page_until_the_mentor_has_read(
    blind_program, enrollment, mentor
):
    # The API blinds the mentor (CaseLogEntrySerializer.to_representation); the entry page must not be the way
    # around it: the inbox links there, and so does the case-log list.
    entry = _with_read(enrollment, mentor)

    response = web(mentor).get(reverse("cases:detail", args=[entry.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    for trainee_text in (TRAINEE_IMPRESSION, TRAINEE_FINDINGS, TRAINEE_DIAGNOSIS):
        assert trainee_text not in html


def test_blind_review_hides_the_trainees_read_in_the_inbox_until_the_mentor_has_read(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = web(mentor).get(reverse("cases:inbox"))

    html = response.content.decode()
    assert entry.case.reference in html
    assert TRAINEE_IMPRESSION[:40] not in html
    assert "LVEF 48%" not in html


def test_without_blind_review_the_page_shows_the_trainees_read_directly(program, enrollment, mentor):
    assert program.blind_review is False
    entry = _with_read(enrollment, mentor)

    response = web(mentor).get(reverse("cases:review", args=[entry.pk]))

    assert [t.name for t in response.templates][0] == "cases/entry_review.html"
    html = response.content.decode()
    assert TRAINEE_IMPRESSION in html and TRAINEE_FINDINGS in html and TRAINEE_DIAGNOSIS in html
    assert "Record my read" not in html
    # No mentor's read to compare with, so no agreement is pre-selected; the mentor chooses.
    assert _selected_option(html, "agree_lvef") in (None, "")
