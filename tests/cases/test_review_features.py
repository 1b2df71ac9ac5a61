"""Issue 4, the web side of reviewing and correcting the case log: the structured read and its comparison, blind
review, per-field agreement, batch sign-off with a confirmation step, amendments of signed entries (form, admin),
group reviews, fast entry (defaults from the last entry, "log another like this") and the list page's query count."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import selectors, services
from cases.models import Case, CaseLogAmendment, CaseLogEntry, GroupReview
from curriculum.models import Category
from training.models import TrainingSession
from trainingportal.core.models import AuditEvent

from ..factories import EnrollmentFactory, EntryFactory, UserFactory
from .helpers import TRAINEE_DIAGNOSIS, TRAINEE_FINDINGS, TRAINEE_IMPRESSION, _events, _row_counts, _with_read

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status
TODAY = timezone.localdate

# What the trainee wrote, distinctive enough that its absence from a page means something.


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _selected_option(html: str, name: str) -> str | None:
    """The value of the selected option of <select name=`name`>, or None if nothing is selected."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name!r}> on the page"
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(1))
    return chosen.group(1) if chosen else None


def _entry_form_data(mentor, **overrides) -> dict:
    """A complete POST of the case-log entry form (create)."""
    data = {
        "reference": "WEB-0001",
        "performed_on": (TODAY() - datetime.timedelta(days=1)).isoformat(),
        "source": Case.Source.CENTER_ARCHIVE,
        "complete_study": "on",
        "indication": "Breathlessness",
        "categories": [Category.objects.get(slug="cardiomyopathy").pk],
        "roles": ["interpreted"],
        "delivery": CaseLogEntry.Delivery.IN_PERSON,
        "supervising_mentor": mentor.pk,
        "session": "",
        "technique_tags": "cine, LGE",
        "lvef": "55",
        "lv_edvi": "80",
        "lge_pattern": "none",
        "final_diagnosis": "Normal study",
        "impression": "Normal biventricular size and function.",
        "findings": "",
        "key_measurements": "",
        "action": "submit",
    }
    return {**data, **overrides}


def _amend_form_data(entry, **overrides) -> dict:
    """A complete POST of the amendment form: the entry as it is (the case fields are locked), plus a reason."""
    data = {
        "performed_on": entry.performed_on.isoformat(),
        "roles": [f for f in CaseLogEntry.ROLE_FIELDS if getattr(entry, f)],
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor_id,
        "session": entry.session_id or "",
        "lvef": "" if entry.lvef is None else str(entry.lvef),
        "lv_edvi": "" if entry.lv_edvi is None else str(entry.lv_edvi),
        "lge_pattern": entry.lge_pattern,
        "final_diagnosis": entry.final_diagnosis,
        "impression": entry.impression,
        "findings": entry.findings,
        "key_measurements": entry.key_measurements,
        "reason": "LVEF re-measured on the short-axis stack.",
    }
    return {**data, **overrides}


# --- compare_reads: the structured read, field by field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("trainee_lvef", "mentor_lvef", "agrees"),
    [(55, 55, True), (50, 55, True), (60, 55, True), (49, 55, False), (61, 55, False), (0, 5, True), (0, 6, False)],
)
def test_compare_reads_lvef_agrees_within_5_points(trainee_lvef, mentor_lvef, agrees):
    entry = CaseLogEntry(lvef=trainee_lvef, mentor_lvef=mentor_lvef)

    assert services.compare_reads(entry) == {"lvef": agrees}


@pytest.mark.parametrize(
    ("trainee_edvi", "mentor_edvi", "agrees"),
    [(100, 100, True), (110, 100, True), (90, 100, True), (111, 100, False), (89, 100, False), (77, 70, True)],
)
def test_compare_reads_lv_edvi_agrees_within_10_percent_of_the_mentors_value(trainee_edvi, mentor_edvi, agrees):
    entry = CaseLogEntry(lv_edvi=trainee_edvi, mentor_lv_edvi=mentor_edvi)

    assert services.compare_reads(entry) == {"lv_edvi": agrees}


def test_compare_reads_lge_pattern_must_be_the_same():
    same = CaseLogEntry(lge_pattern="mid_wall", mentor_lge_pattern="mid_wall")
    different = CaseLogEntry(lge_pattern="mid_wall", mentor_lge_pattern="subepicardial")

    assert services.compare_reads(same) == {"lge_pattern": True}
    assert services.compare_reads(different) == {"lge_pattern": False}


@pytest.mark.parametrize(
    ("trainee", "mentor", "agrees"),
    [
        ("Cardiac amyloidosis", "cardiac AMYLOIDOSIS", True),
        ("  Cardiac amyloidosis ", "Cardiac amyloidosis", True),
        ("Cardiac amyloidosis", "Cardiac sarcoidosis", False),
    ],
)
def test_compare_reads_final_diagnosis_ignores_case_and_surrounding_space(trainee, mentor, agrees):
    entry = CaseLogEntry(final_diagnosis=trainee, mentor_final_diagnosis=mentor)

    assert services.compare_reads(entry) == {"final_diagnosis": agrees}


def test_compare_reads_leaves_out_fields_only_one_side_gave():
    entry = CaseLogEntry(lvef=40, lge_pattern="transmural", mentor_lv_edvi=90, mentor_final_diagnosis="MI")

    assert services.compare_reads(entry) == {}


def test_phi_in_the_final_diagnosis_is_refused_naming_the_field_and_nothing_is_saved(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        services.entry_create(
            actor=enrollment.trainee,
            enrollment=enrollment,
            reference="PHI-DX-1",
            source=Case.Source.CENTER_ARCHIVE,
            complete_study=True,
            indication="",
            categories=list(Category.objects.filter(slug="cardiomyopathy")),
            performed_on=TODAY(),
            interpreted=True,
            supervising_mentor=mentor,
            impression="Infiltrative cardiomyopathy.",
            final_diagnosis="Amyloidosis in Mrs Jones",
        )

    errors = exc_info.value.message_dict
    assert list(errors) == ["final_diagnosis"]
    assert "Final diagnosis" in errors["final_diagnosis"][0]
    assert "patient name" in errors["final_diagnosis"][0]
    assert _row_counts() == before


def test_phi_in_the_final_diagnosis_is_shown_on_the_form_field_and_nothing_is_saved(enrollment, trainee, mentor):
    before = _row_counts()

    response = web(trainee).post(reverse("cases:create"), _entry_form_data(mentor, final_diagnosis="DCM, MRN 12345678"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["final_diagnosis"]
    assert "Final diagnosis" in errors["final_diagnosis"][0]
    assert "medical record number" in errors["final_diagnosis"][0]
    assert _row_counts() == before


def test_phi_in_the_mentors_own_final_diagnosis_is_refused(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = web(mentor).post(
        reverse("cases:review", args=[entry.pk]), {"final_diagnosis": "Sarcoid, seen with Mr Patel"}
    )

    assert response.status_code == 200
    assert "patient name" in response.context["form"].errors["final_diagnosis"][0]
    entry.refresh_from_db()
    assert entry.mentor_read_at is None and entry.mentor_final_diagnosis == ""


# --- blind review ---------------------------------------------------------------------------------------------------


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
    assert response.status_code == 200
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
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.mentor_lvef == 50 and entry.status == Status.SUBMITTED


def test_blind_review_needs_at_least_one_item_of_the_mentors_read(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    # What a browser sends for the empty form (an empty POST would leave the form unbound).
    blank = {"lvef": "", "lv_edvi": "", "lge_pattern": "", "final_diagnosis": ""}
    response = web(mentor).post(reverse("cases:review", args=[entry.pk]), blank)

    assert response.status_code == 200
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


# --- sign with per-field agreement (web) ----------------------------------------------------------------------------


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


# --- batch sign-off -------------------------------------------------------------------------------------------------


@pytest.fixture
def fellow(program, mentor):
    """A second trainee supervised by `mentor`, so that a batch spans trainees."""
    return EnrollmentFactory(
        trainee=UserFactory(email="fay@example.test", full_name="Fay Fellow"), program=program, mentors=[mentor]
    )


def _inbox(enrollment, fellow, mentor, n: int) -> list[CaseLogEntry]:
    return [
        EntryFactory(
            enrollment=enrollment if i % 2 else fellow,
            supervising_mentor=mentor,
            submitted=True,
            case__reference=f"BATCH-{i:03d}",
        )
        for i in range(n)
    ]


def test_batch_sign_without_confirm_shows_what_will_be_signed_and_signs_nothing(enrollment, fellow, mentor):
    entries = _inbox(enrollment, fellow, mentor, 20)
    events_before = AuditEvent.objects.count()

    response = web(mentor).post(
        reverse("cases:sign_batch"), {"entries": [e.pk for e in entries], "mentor_feedback": "Reviewed, agree."}
    )

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cases/review_batch_confirm.html"
    html = response.content.decode()
    assert "Sign 20 entries" in html
    rows = re.findall(
        r"<tr>\s*<td class=\"nowrap\">(BATCH-\d+)<input[^>]*value=\"(\d+)\">\s*</td>\s*<td>([^<]+)</td>", html
    )
    assert {(ref, int(pk), trainee) for ref, pk, trainee in rows} == {
        (e.case.reference, e.pk, str(e.enrollment.trainee)) for e in entries
    }
    assert 'name="confirm" value="yes"' in html
    assert CaseLogEntry.objects.filter(status=Status.SIGNED).count() == 0
    assert AuditEvent.objects.count() == events_before


def test_batch_sign_with_confirm_signs_all_20_each_with_an_audit_event(enrollment, fellow, mentor):
    entries = _inbox(enrollment, fellow, mentor, 20)

    response = web(mentor).post(
        reverse("cases:sign_batch"),
        {"entries": [e.pk for e in entries], "mentor_feedback": "Reviewed, agree.", "confirm": "yes"},
    )

    assert response.status_code == 302 and response.url == reverse("cases:inbox")
    signed = CaseLogEntry.objects.filter(pk__in=[e.pk for e in entries])
    assert all(e.status == Status.SIGNED and e.signed_by == mentor for e in signed)
    assert {e.mentor_feedback for e in signed} == {"Reviewed, agree."}
    events = AuditEvent.objects.filter(action="entry.sign")
    assert sorted(int(e.object_id) for e in events) == sorted(e.pk for e in entries)
    assert {e.actor_id for e in events} == {mentor.pk}
    assert {e.after["status"] for e in events} == {"signed"}


def test_batch_sign_offers_and_accepts_only_entries_of_the_mentors_inbox(
    enrollment, fellow, other_enrollment, mentor, second_mentor
):
    mine = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    not_mine = EntryFactory(enrollment=other_enrollment, supervising_mentor=second_mentor, submitted=True)
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    already_signed = EntryFactory(enrollment=fellow, supervising_mentor=mentor, signed=True)
    foreign = [not_mine, draft, already_signed]
    snapshot = {e.pk: (e.status, e.signed_by_id, e.signed_at, e.updated_at) for e in [mine, *foreign]}
    client = web(mentor)

    offered = re.findall(r'name="entries" value="(\d+)"', client.get(reverse("cases:inbox")).content.decode())
    assert offered == [str(mine.pk)]

    for other in foreign:
        for confirm in ("", "yes"):
            response = client.post(
                reverse("cases:sign_batch"),
                {"entries": [mine.pk, other.pk], "mentor_feedback": "Agree.", "confirm": confirm},
            )
            assert response.status_code == 302 and response.url == reverse("cases:inbox")

    assert {
        e.pk: (e.status, e.signed_by_id, e.signed_at, e.updated_at)
        for e in CaseLogEntry.objects.filter(pk__in=snapshot)
    } == snapshot
    assert not AuditEvent.objects.filter(action="entry.sign").exists()


def test_batch_sign_skips_an_entry_that_needs_a_blind_read_first(blind_program, enrollment, fellow, mentor):
    read = _with_read(enrollment, mentor, mentor_lvef=50, mentor_read_at=timezone.now())
    unread = _with_read(fellow, mentor)

    response = web(mentor).post(
        reverse("cases:sign_batch"),
        {"entries": [read.pk, unread.pk], "mentor_feedback": "Agree.", "confirm": "yes"},
        follow=True,
    )

    read.refresh_from_db()
    unread.refresh_from_db()
    assert read.status == Status.SIGNED and read.agreement == {"lvef": True}
    assert unread.status == Status.SUBMITTED
    assert f"Not signed: {unread.case.reference}" in response.content.decode()


def test_batch_sign_confirm_page_uses_the_same_queries_for_3_and_20_entries(enrollment, fellow, mentor):
    entries = _inbox(enrollment, fellow, mentor, 20)
    client = web(mentor)

    def count(selected) -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(
                reverse("cases:sign_batch"), {"entries": [e.pk for e in selected], "mentor_feedback": "Agree."}
            )
        assert response.status_code == 200
        return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]

    count(entries[:3])  # warm-up: content types, first-request caches
    small, small_sql = count(entries[:3])
    large, large_sql = count(entries)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. the selected entries of the inbox with their
    # joins (validates the selection; the page lists the same rows)  5. prefetch of their categories
    # 6. navigation roles. None of them per entry.
    assert small == large, "\n".join(["--- 3:", *small_sql, "--- 20:", *large_sql])
    assert large == 6, "\n".join(large_sql)


# --- amendments -----------------------------------------------------------------------------------------------------


@pytest.fixture
def signed_entry(enrollment, mentor):
    return EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        lvef=35,
        final_diagnosis="Dilated cardiomyopathy",
        agreement={"lvef": True},
    )


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

    assert response.status_code == 200
    assert response.context["reason_form"].errors["reason"]
    signed_entry.refresh_from_db()
    assert signed_entry.lvef == 35 and signed_entry.status == Status.SIGNED
    assert _row_counts() == before


def test_amendment_that_changes_nothing_is_refused(signed_entry, trainee):
    before = _row_counts()

    response = web(trainee).post(reverse("cases:amend", args=[signed_entry.pk]), _amend_form_data(signed_entry))

    assert response.status_code == 200
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

    assert response.status_code == 200
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


# --- group review ---------------------------------------------------------------------------------------------------


@pytest.fixture
def three_trainees(program, mentor, enrollment):
    """`trainee` and two more, all supervised by `mentor`."""
    return [enrollment, *(EnrollmentFactory(program=program, mentors=[mentor]) for _ in range(2))]


def _group_review_data(enrollments, **overrides) -> dict:
    data = {
        "reference": "GRP-0001",
        "performed_on": (TODAY() - datetime.timedelta(days=1)).isoformat(),
        "source": Case.Source.TEACHING_FILE,
        "delivery": CaseLogEntry.Delivery.VIRTUAL_LIVE_TWO_WAY,
        "categories": [Category.objects.get(slug="cardiomyopathy").pk],
        "enrollments": [e.pk for e in enrollments],
        "teaching_points": "Look for the apical sparing pattern.",
    }
    return {**data, **overrides}


def test_group_review_gives_each_trainee_a_draft_to_confirm_with_their_own_read(three_trainees, mentor):
    response = web(mentor).post(reverse("cases:group_review_create"), _group_review_data(three_trainees))

    assert response.status_code == 302 and response.url == reverse("cases:inbox")
    [review] = GroupReview.objects.all()
    assert review.mentor == mentor and review.case.reference == "GRP-0001"
    entries = list(review.entries.order_by("enrollment_id"))
    assert [e.enrollment_id for e in entries] == sorted(e.pk for e in three_trainees)
    assert all(e.status == Status.DRAFT and e.supervising_mentor == mentor for e in entries)
    assert all(e.case_id == review.case_id and e.delivery == "virtual_live_two_way" for e in entries)
    assert len(AuditEvent.objects.filter(action="entry.create_from_group_review")) == 3

    for i, entry in enumerate(entries):
        client = web(entry.enrollment.trainee)
        page = client.get(reverse("cases:detail", args=[entry.pk]))
        assert page.status_code == 200
        assert "Recorded by Max Mentor in a group review" in page.content.decode()
        response = client.post(
            reverse("cases:edit", args=[entry.pk]),
            _amend_form_data(entry, lvef=str(40 + i), impression=f"My read number {i}.", action="submit"),
        )
        assert response.status_code == 302, response.context and response.context["form"].errors
        entry.refresh_from_db()
        assert entry.status == Status.SUBMITTED and entry.lvef == 40 + i and entry.group_review == review
    # Each trainee sees only their own entry of the group review.
    for entry in entries:
        for other in entries:
            if other.pk != entry.pk:
                assert web(entry.enrollment.trainee).get(reverse("cases:detail", args=[other.pk])).status_code == 403


def test_group_review_refuses_a_trainee_the_mentor_does_not_supervise(three_trainees, other_enrollment, mentor):
    before = _row_counts()

    response = web(mentor).post(
        reverse("cases:group_review_create"), _group_review_data([*three_trainees, other_enrollment])
    )

    assert response.status_code == 200
    assert response.context["form"].errors["enrollments"]
    assert _row_counts() == before


def test_group_review_service_refuses_a_trainee_supervised_by_someone_else(
    three_trainees, other_enrollment, mentor, second_mentor, program
):
    # `other_enrollment` has `second_mentor` assigned; `mentor` does not supervise it.
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        services.group_review_create(
            actor=mentor,
            program=program,
            enrollments=[*three_trainees, other_enrollment],
            reference="GRP-0002",
            source=Case.Source.TEACHING_FILE,
            categories=list(Category.objects.filter(slug="cardiomyopathy")),
            performed_on=TODAY(),
            delivery=CaseLogEntry.Delivery.IN_PERSON,
        )

    assert "Otto Other" in exc_info.value.message_dict["enrollments"][0]
    assert _row_counts() == before


def test_group_review_page_is_for_mentors_only(three_trainees, trainee, mentor):
    assert web(trainee).get(reverse("cases:group_review_create")).status_code == 403
    before = _row_counts()
    response = web(trainee).post(reverse("cases:group_review_create"), _group_review_data(three_trainees))
    assert response.status_code == 403
    assert _row_counts() == before
    assert web(mentor).get(reverse("cases:group_review_create")).status_code == 200


# --- fast entry -----------------------------------------------------------------------------------------------------


@pytest.fixture
def session(program, mentor):
    return TrainingSession.objects.create(
        program=program,
        type=TrainingSession.Type.CASE_REVIEW,
        delivery=TrainingSession.Delivery.VIRTUAL_TWO_WAY,
        title="Cardiomyopathy case review",
        mentor=mentor,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        duration_minutes=60,
    )


@pytest.fixture
def last_entry(enrollment, mentor, session):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, case__reference="OLD-0001")
    return EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        case__reference="LAST-0001",
        case__source=Case.Source.REGISTRY,
        case__complete_study=False,
        case__indication="Palpitations",
        case__technique_tags=["cine", "T1 mapping"],
        case__categories=["cardiomyopathy", "fibrosis-edema"],
        interpreted=False,
        observed_console=True,
        protocolled=True,
        delivery=CaseLogEntry.Delivery.ASYNCHRONOUS,
        session=session,
        lvef=61,
        lv_edvi=77,
        lge_pattern="mid_wall",
        final_diagnosis="Myocarditis",
        key_measurements="T1 1080 ms",
    )


def test_create_form_starts_from_the_trainees_last_entry(last_entry, trainee, mentor, session):
    response = web(trainee).get(reverse("cases:create"))

    assert response.status_code == 200
    form = response.context["form"]
    assert form["supervising_mentor"].value() == mentor.pk
    assert form["delivery"].value() == "asynchronous"
    assert form["session"].value() == session.pk
    assert form["source"].value() == "registry"
    assert form["roles"].value() == ["observed_console", "protocolled"]
    assert form["reference"].value() is None
    assert form["lvef"].value() is None


def test_create_form_without_a_previous_entry_uses_the_plain_defaults(enrollment, trainee):
    form = web(trainee).get(reverse("cases:create")).context["form"]

    assert form["roles"].value() == ["interpreted"] and form["delivery"].value() == "in_person"


def test_log_another_like_this_prefills_all_but_the_reference_and_the_read(last_entry, trainee, mentor, session):
    response = web(trainee).get(reverse("cases:create") + f"?like={last_entry.pk}")

    assert response.status_code == 200
    form = response.context["form"]
    assert form["source"].value() == "registry"
    assert form["complete_study"].value() is False
    assert form["indication"].value() == "Palpitations"
    chosen = Category.objects.filter(pk__in=[getattr(c, "pk", c) for c in form["categories"].value()])
    assert sorted(chosen.values_list("slug", flat=True)) == ["cardiomyopathy", "fibrosis-edema"]
    assert form["technique_tags"].value() == "cine, T1 mapping"
    assert form["roles"].value() == ["observed_console", "protocolled"]
    assert form["delivery"].value() == "asynchronous"
    assert form["supervising_mentor"].value() == mentor.pk
    assert form["session"].value() == session.pk
    assert form["performed_on"].value() == last_entry.performed_on
    for blank in ("reference", "findings", "impression", "key_measurements", *CaseLogEntry.READ_FIELDS):
        assert form[blank].value() is None, blank
    reference_input = re.search(r'<input[^>]*name="reference"[^>]*>', response.content.decode()).group(0)
    assert "value=" not in reference_input


def test_log_another_like_another_trainees_entry_is_refused(enrollment, trainee, other_enrollment, mentor, outsider):
    theirs = EntryFactory(enrollment=other_enrollment, supervising_mentor=mentor, case__indication="Their indication")
    elsewhere = EntryFactory(case__indication="Elsewhere indication")

    response = web(trainee).get(reverse("cases:create") + f"?like={theirs.pk}")
    assert response.status_code in (403, 404)
    assert b"Their indication" not in response.content
    response = web(trainee).get(reverse("cases:create") + f"?like={elsewhere.pk}")
    assert response.status_code == 404
    assert b"Elsewhere indication" not in response.content


def test_submit_and_log_another_like_this_redirects_to_a_prefilled_form(enrollment, trainee, mentor):
    client = web(trainee)

    response = client.post(reverse("cases:create"), _entry_form_data(mentor, action="submit_another"))

    entry = CaseLogEntry.objects.get(case__reference="WEB-0001")
    assert entry.status == Status.SUBMITTED
    assert response.status_code == 302 and response.url == f"{reverse('cases:create')}?like={entry.pk}"
    form = client.get(response.url).context["form"]
    assert form["indication"].value() == "Breathlessness" and form["reference"].value() is None


# --- the list page --------------------------------------------------------------------------------------------------


def _logged(enrollment, other_enrollment, mentor, n: int):
    for i in range(n):
        entry = EntryFactory(
            enrollment=enrollment if i % 2 else other_enrollment,
            supervising_mentor=mentor,
            case__categories=["valvular", "masses"],
            signed=True,
        )
        if i % 3 == 0:
            services.entry_amend(actor=mentor, entry=entry, reason="Typo.", impression=f"Corrected read {i}.")


def test_case_log_list_page_uses_the_same_queries_for_3_and_30_entries(mentor, enrollment, other_enrollment):
    other_enrollment.mentors.add(mentor)
    client = web(mentor)
    _logged(enrollment, other_enrollment, mentor, 3)
    client.get(reverse("cases:list"))  # warm-up: content types, first-request caches

    def count() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("cases:list"))
        assert response.status_code == 200
        return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]

    small, small_sql = count()
    _logged(enrollment, other_enrollment, mentor, 27)
    large, large_sql = count()

    assert small == large, "\n".join(["--- 3:", *small_sql, "--- 30:", *large_sql])
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. the active enrollment (none: a mentor)  6. navigation roles  7. the page of entries with joins
    # 8. prefetch of the cases' categories
    assert large == 8, "\n".join(large_sql)
