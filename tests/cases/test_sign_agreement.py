"""Signing with per-field agreement (web and service): the mentor says, for each field of the structured read the
trainee filled, whether they agree; agreement given explicitly overrides the one computed from the two reads."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import CaseLogEntry

from .helpers import _events, _with_read, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


def test_review_form_offers_agreement_only_for_the_fields_the_trainee_filled(enrollment, mentor):
    entry = _with_read(enrollment, mentor, lv_edvi=None, lge_pattern="")

    response = web(mentor).get(reverse("cases:review", args=[entry.pk]))

    agree_fields = sorted(f for f in response.context["form"].fields if f.startswith("agree_"))
    assert agree_fields == ["agree_final_diagnosis", "agree_lvef"]


def test_sign_records_the_per_field_agreement_from_the_form(enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = web(mentor).post(
        reverse("cases:review", args=[entry.pk]),
        {
            "action": "sign",
            "mentor_agrees": "partly",
            "mentor_feedback": "LVEF is lower on my contours; the rest is right.",
            "agree_lvef": "no",
            "agree_lv_edvi": "yes",
            "agree_lge_pattern": "",  # not judged
            "agree_final_diagnosis": "yes",
            "agree_heart_rate": "yes",  # not a read field: not a form field either
        },
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == Status.SIGNED and entry.signed_by == mentor
    assert entry.mentor_agrees is None  # "partly"
    assert entry.agreement == {"lvef": False, "lv_edvi": True, "final_diagnosis": True}
    [event] = _events(entry, "entry.sign")
    assert event.after["agreement"] == entry.agreement


def test_sign_refuses_agreement_on_unknown_fields(enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    with pytest.raises(ValidationError) as exc_info:
        services.entry_sign(
            actor=mentor, entry=entry, feedback="Fine.", agrees=True, agreement={"lvef": True, "heart_rate": True}
        )

    assert "heart_rate" in exc_info.value.messages[0]
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED and entry.agreement == {}
    assert _events(entry, "entry.sign") == []


def test_sign_agreement_given_overrides_the_computed_one(enrollment, mentor):
    entry = _with_read(enrollment, mentor, mentor_lvef=70, mentor_lge_pattern="diffuse", mentor_read_at=timezone.now())

    entry = services.entry_sign(actor=mentor, entry=entry, feedback="Fine.", agrees=True, agreement={"lvef": True})

    # LVEF 48 vs 70 computes as a disagreement; the mentor's explicit "agree" wins; LGE keeps the computed value.
    assert entry.agreement == {"lvef": True, "lge_pattern": True}


def test_the_report_sums_the_agreement_field_by_field_over_signed_entries_only(client, enrollment, mentor, trainee):
    from cases.selectors import agreement_summary

    from ..factories import EntryFactory

    agreements = [
        {"lvef": True, "final_diagnosis": True},
        {"lvef": False, "final_diagnosis": True},
        {"lvef": True},
    ]
    for agreement in agreements:
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, agreement=agreement)
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True, mentor_read_at=timezone.now())
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True, agreement={"lvef": False})

    summary = agreement_summary(enrollment)

    by_field = {f["field"]: (f["compared"], f["agreed"], f["percent"]) for f in summary["fields"]}
    assert by_field == {
        "lvef": (3, 2, 67),
        "lv_edvi": (0, 0, None),
        "lge_pattern": (0, 0, None),
        "final_diagnosis": (2, 2, 100),
    }
    assert (summary["signed"], summary["blind"]) == (4, 1)
    client.force_login(trainee)
    page = client.get(reverse("trainees:progress", args=[enrollment.pk])).content.decode()
    assert "Agreement with the mentor's read" in page and "2 (67%)" in page
