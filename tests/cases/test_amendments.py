"""Amending a signed entry (web): neither the edit form nor the admin changes a signed entry; an amendment needs a
reason, keeps the original, and sends a trainee's change back for a new signature while a mentor's keeps the entry
signed. The entry page shows amendments and the history."""

import re

import pytest
from django.urls import reverse

from cases import selectors, services
from cases.models import CaseLogAmendment, CaseLogEntry

from ..factories import EntryFactory, UserFactory
from .helpers import _amend_form_data, _events, _row_counts, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


def test_signed_entry_cannot_be_edited_through_the_form(signed_entry, trainee):
    client = web(trainee)
    url = reverse("cases:edit", args=[signed_entry.pk])

    assert client.get(url).status_code == 403
    data = _amend_form_data(signed_entry, impression="Changed my mind.", action="submit")
    assert client.post(url, data).status_code == 403

    signed_entry.refresh_from_db()
    assert signed_entry.status == Status.SIGNED
    assert signed_entry.impression == "Dilated cardiomyopathy with mid-wall septal LGE."


@pytest.fixture
def superuser(db):
    return UserFactory(email="admin@example.test", is_staff=True, is_superuser=True)


def test_signed_entry_is_read_only_in_the_admin(signed_entry, enrollment, mentor, superuser):
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    client = web(superuser)

    # A draft can be changed in the admin (so the check below is not vacuous) ...
    draft_page = client.get(reverse("admin:cases_caselogentry_change", args=[draft.pk]))
    assert draft_page.status_code == 200 and 'name="_save"' in draft_page.content.decode()
    # ... a signed entry is shown read-only: no save button, no inputs for its fields ...
    url = reverse("admin:cases_caselogentry_change", args=[signed_entry.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="impression"' not in html
    assert signed_entry.impression in html
    # ... and a POST of a change is refused.
    response = client.post(url, {"impression": "Edited in the admin.", "status": "draft", "_save": "Save"})
    assert response.status_code == 403
    delete = client.post(reverse("admin:cases_caselogentry_delete", args=[signed_entry.pk]), {"post": "yes"})
    assert delete.status_code == 403

    signed_entry.refresh_from_db()
    assert signed_entry.status == Status.SIGNED
    assert signed_entry.impression == "Dilated cardiomyopathy with mid-wall septal LGE."


def test_trainees_amendment_keeps_the_original_and_goes_back_for_a_new_signature(signed_entry, trainee, mentor):
    before_signed_at = signed_entry.signed_at

    response = web(trainee).post(
        reverse("cases:amend", args=[signed_entry.pk]),
        _amend_form_data(signed_entry, lvef="42", impression="DCM; LVEF re-measured at 42 %."),
    )

    assert response.status_code == 302 and response.url == reverse("cases:detail", args=[signed_entry.pk])
    entry = CaseLogEntry.objects.get(pk=signed_entry.pk)
    assert entry.lvef == 42 and entry.impression == "DCM; LVEF re-measured at 42 %."
    assert entry.status == Status.SUBMITTED
    assert entry.signed_by is None and entry.signed_at is None and entry.agreement == {}
    [amendment] = entry.amendments.all()
    assert amendment.amended_by == trainee
    assert amendment.reason == "LVEF re-measured on the short-axis stack."
    assert amendment.before["status"] == "signed" and amendment.before["lvef"] == 35
    assert amendment.before["impression"] == "Dilated cardiomyopathy with mid-wall septal LGE."
    assert amendment.before["signed_by"] == mentor.email
    assert amendment.before["signed_at"] == before_signed_at.isoformat()
    assert amendment.after["status"] == "submitted" and amendment.after["lvef"] == 42
    [event] = _events(entry, "entry.amend")
    assert event.actor == trainee
    assert event.before["status"] == "signed" and event.after["status"] == "submitted"
    # Back in the mentor's inbox.
    assert entry.pk in [e.pk for e in selectors.review_inbox(mentor)]


def test_mentors_amendment_keeps_the_entry_signed(signed_entry, mentor):
    response = web(mentor).post(
        reverse("cases:amend", args=[signed_entry.pk]),
        _amend_form_data(signed_entry, final_diagnosis="Dilated cardiomyopathy, familial", reason="Genetics result."),
    )

    assert response.status_code == 302
    entry = CaseLogEntry.objects.get(pk=signed_entry.pk)
    assert entry.final_diagnosis == "Dilated cardiomyopathy, familial"
    assert entry.status == Status.SIGNED and entry.signed_by == mentor and entry.signed_at == signed_entry.signed_at
    assert entry.agreement == {"lvef": True}
    [amendment] = entry.amendments.all()
    assert amendment.amended_by == mentor and amendment.before["final_diagnosis"] == "Dilated cardiomyopathy"
    assert len(_events(entry, "entry.amend")) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_amendment_without_a_reason_is_refused(signed_entry, trainee, reason):
    before = _row_counts()

    response = web(trainee).post(
        reverse("cases:amend", args=[signed_entry.pk]), _amend_form_data(signed_entry, lvef="42", reason=reason)
    )

    assert response.status_code == 400
    assert response.context["reason_form"].errors["reason"]
    signed_entry.refresh_from_db()
    assert signed_entry.lvef == 35 and signed_entry.status == Status.SIGNED
    assert _row_counts() == before


def test_amendment_that_changes_nothing_is_refused(signed_entry, trainee):
    before = _row_counts()

    response = web(trainee).post(reverse("cases:amend", args=[signed_entry.pk]), _amend_form_data(signed_entry))

    assert response.status_code == 400
    assert "Nothing was changed." in response.context["form"].non_field_errors()
    signed_entry.refresh_from_db()
    assert signed_entry.status == Status.SIGNED
    assert _row_counts() == before


def test_amendment_with_phi_in_the_reason_is_refused(signed_entry, trainee):
    before = _row_counts()

    response = web(trainee).post(
        reverse("cases:amend", args=[signed_entry.pk]),
        _amend_form_data(signed_entry, lvef="42", reason="Called the patient on 07700 900123"),
    )

    assert response.status_code == 400
    assert "phone number" in response.context["reason_form"].errors["reason"][0]
    assert _row_counts() == before


def test_amend_checks_ownership(signed_entry, other_trainee, other_enrollment, director, outsider):
    data = _amend_form_data(signed_entry, lvef="20")
    url = reverse("cases:amend", args=[signed_entry.pk])

    # The director sees the entry but corrects nothing: amendments are the trainee's and the mentors'.
    assert web(director).get(url).status_code == 403
    assert web(director).post(url, data).status_code == 403
    assert web(other_trainee).get(url).status_code == 403
    assert web(other_trainee).post(url, data).status_code == 403
    assert web(outsider).get(url).status_code == 404
    assert web(outsider).post(url, data).status_code == 404
    signed_entry.refresh_from_db()
    assert signed_entry.lvef == 35 and not signed_entry.amendments.exists()


def test_only_signed_entries_are_amended(enrollment, trainee, mentor):
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)

    response = web(trainee).post(reverse("cases:amend", args=[draft.pk]), _amend_form_data(draft, lvef="42"))

    assert response.status_code == 403
    assert not CaseLogAmendment.objects.exists()


def test_entry_page_shows_the_amendment_and_the_history(signed_entry, trainee, mentor):
    services.entry_amend(actor=trainee, entry=signed_entry, reason="LVEF re-measured on the short-axis stack.", lvef=42)
    services.entry_sign(actor=mentor, entry=CaseLogEntry.objects.get(pk=signed_entry.pk), feedback="Ok.", agrees=True)

    response = web(trainee).get(reverse("cases:detail", args=[signed_entry.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>Amendments</h2>" in html
    assert "LVEF re-measured on the short-axis stack." in html
    assert re.search(r"<td>lvef</td><td>35</td><td>42</td>", html)
    history = [e.action for e in response.context["history"]]
    assert history == ["entry.amend", "entry.sign"]
    assert "amend (signed → submitted)" in html and "sign (submitted → signed)" in html
