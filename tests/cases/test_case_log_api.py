"""/api/v1/case-logs/: logging, submitting, returning and signing an entry; who may see, create and sign what; the
structured read and the PHI guard; blind review (mentor-read); signing with per-field agreement; sign-batch; amend;
the list's filters and a list whose query count does not grow with the data."""

import datetime

import pytest
from django.utils import timezone

from cases import services
from cases.models import CaseLogAmendment, CaseLogEntry
from trainingportal.core.models import AuditEvent

from ..conftest import api_as
from ..factories import EntryFactory
from ..queries import assert_query_count_flat
from .helpers import TRAINEE_IMPRESSION, _entry_payload, _events, _row_counts, _with_read

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status
TODAY = timezone.localdate
URL = "/api/v1/case-logs/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def _amend_payload(entry, **overrides) -> dict:
    """The entry as it is, plus a reason: the amend action takes the whole entry, like PUT."""
    payload = {
        "performed_on": entry.performed_on.isoformat(),
        "roles": [f for f in CaseLogEntry.ROLE_FIELDS if getattr(entry, f)],
        "delivery": entry.delivery,
        "supervising_mentor": entry.supervising_mentor_id,
        "findings": entry.findings,
        "impression": entry.impression,
        "key_measurements": entry.key_measurements,
        "lvef": entry.lvef,
        "lv_edvi": entry.lv_edvi,
        "lge_pattern": entry.lge_pattern,
        "final_diagnosis": entry.final_diagnosis,
        "reason": "LVEF re-measured on the short-axis stack.",
    }
    return {**payload, **overrides}


# --- the flow: log, submit, return, sign ------------------------------------------------------------------------------


def test_trainee_logs_and_submits_an_entry_and_the_mentor_signs_it(enrollment, trainee, mentor):
    client = api_as(trainee)
    response = client.post(URL, _entry_payload(mentor), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "draft"
    assert created["enrollment"] == enrollment.pk
    assert created["reference"] == "API-0001" and created["source"] == "registry"
    assert sorted(created["categories"]) == ["cardiomyopathy", "fibrosis-edema"]
    assert created["roles"] == ["assisted_console", "interpreted"]
    entry_url = f"{URL}{created['id']}/"

    response = client.post(f"{entry_url}submit/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"

    response = api_as(mentor).post(
        f"{entry_url}sign/", {"feedback": "Agree. Note the septal stripe.", "agrees": True}, format="json"
    )
    assert response.status_code == 200, response.content
    signed = response.json()
    assert signed["status"] == "signed"
    assert signed["signed_by"] == mentor.pk and signed["mentor_agrees"] is True
    assert signed["mentor_feedback"] == "Agree. Note the septal stripe."


def test_returned_entry_can_be_corrected_and_submitted_again(enrollment, trainee, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    url = f"{URL}{entry.pk}/"
    response = api_as(mentor).post(f"{url}return/", {"reason": "Add the LVEF."}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "returned"

    client = api_as(trainee)
    response = client.patch(url, {"key_measurements": "LVEF 31%", "submit": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted" and response.json()["key_measurements"] == "LVEF 31%"


# --- who may create, see and sign -------------------------------------------------------------------------------------


def test_only_trainees_with_an_active_enrollment_create_entries(enrollment, mentor, director):
    response = api_as(mentor).post(URL, _entry_payload(mentor), format="json")
    assert response.status_code == 403
    assert api_as(director).post(URL, _entry_payload(mentor), format="json").status_code == 403
    assert not CaseLogEntry.objects.exists()


def test_supervising_mentor_must_be_a_mentor_of_the_program(other_enrollment, other_trainee, mentor, outsider):
    # `other_enrollment` has no assigned mentor yet, so any mentor of the program may supervise, and nobody else:
    # not the trainee (who would then sign their own case), not a stranger (who would then see and sign it).
    client = api_as(other_trainee)
    for i, stranger in enumerate([other_trainee, outsider]):
        response = client.post(
            URL,
            _entry_payload(stranger, reference=f"SUP-{i}", submit=True),
            format="json",
        )
        assert response.status_code == 400, f"{stranger.email} accepted as supervising mentor"
        assert "supervising_mentor" in response.json()
    assert not CaseLogEntry.objects.exists()
    response = client.post(URL, _entry_payload(mentor, reference="SUP-OK"), format="json")
    assert response.status_code == 201, response.content


def test_other_trainee_cannot_see_the_entry(enrollment, other_enrollment, trainee, other_trainee, mentor, outsider):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    url = f"{URL}{entry.pk}/"
    client = api_as(other_trainee)
    # A co-trainee is a member of the program without a role on this entry: 403 (SPEC section 2); an outsider
    # of the program gets 404, as for an entry that does not exist.
    assert client.get(url).status_code == 403
    assert entry.pk not in _ids(client.get(URL))
    assert api_as(outsider).get(url).status_code == 404
    assert entry.pk not in _ids(api_as(outsider).get(URL))
    assert entry.pk in _ids(api_as(trainee).get(URL))


def test_trainee_can_never_sign_their_own_entry(other_enrollment, other_trainee):
    # However such an entry came to be (data from before validation existed, an admin edit), signing your own
    # case is not a review.
    entry = EntryFactory(enrollment=other_enrollment, supervising_mentor=other_trainee, submitted=True)
    response = api_as(other_trainee).post(f"{URL}{entry.pk}/sign/", {"feedback": "Looks right to me."}, format="json")
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.status == "submitted"


# --- create: the structured read and the PHI guard --------------------------------------------------------------------


def test_create_with_the_structured_read(enrollment, trainee, mentor):
    payload = {
        "reference": "API-READ-1",
        "categories": ["cardiomyopathy"],
        "performed_on": (TODAY() - datetime.timedelta(days=1)).isoformat(),
        "roles": ["interpreted"],
        "delivery": "in_person",
        "supervising_mentor": mentor.pk,
        "impression": "Amyloid pattern.",
        "lvef": 48,
        "lv_edvi": 70,
        "lge_pattern": "diffuse",
        "final_diagnosis": "Cardiac amyloidosis",
    }

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["lvef"], body["lv_edvi"], body["lge_pattern"]) == (48, 70, "diffuse")
    assert body["final_diagnosis"] == "Cardiac amyloidosis"
    assert body["agreement"] == {} and body["amendments"] == 0


def test_create_refuses_phi_in_the_final_diagnosis_and_saves_nothing(enrollment, trainee, mentor):
    before = _row_counts()
    payload = {
        "reference": "API-PHI-1",
        "categories": ["cardiomyopathy"],
        "performed_on": TODAY().isoformat(),
        "roles": ["interpreted"],
        "delivery": "in_person",
        "supervising_mentor": mentor.pk,
        "impression": "Amyloid pattern.",
        "final_diagnosis": "Amyloidosis (patient: Jones)",
    }

    response = api_as(trainee).post(URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == ["final_diagnosis"]
    assert "Final diagnosis" in errors["final_diagnosis"][0] and "patient name" in errors["final_diagnosis"][0]
    assert _row_counts() == before


# --- blind review -----------------------------------------------------------------------------------------------------


def test_blind_review_hides_the_read_from_the_mentor_until_theirs_is_recorded(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)
    client = api_as(mentor)

    blinded = client.get(f"{URL}{entry.pk}/").json()
    assert blinded["impression"] is None and blinded["lvef"] is None and blinded["final_diagnosis"] is None
    assert entry.pk in [e["id"] for e in client.get(URL).json()["results"]]
    [listed] = [e for e in client.get(URL).json()["results"] if e["id"] == entry.pk]
    assert listed["impression"] is None and listed["lvef"] is None

    response = client.post(
        f"{URL}{entry.pk}/mentor-read/",
        {"lvef": 52, "lv_edvi": 78, "lge_pattern": "diffuse", "final_diagnosis": "cardiac AMYLOIDOSIS"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["impression"] == TRAINEE_IMPRESSION and response.json()["lvef"] == 48
    # The trainee always sees their own read.
    assert api_as(enrollment.trainee).get(f"{URL}{entry.pk}/").json()["impression"] == TRAINEE_IMPRESSION


def test_blind_review_sign_is_refused_before_the_mentors_read(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = api_as(mentor).post(f"{URL}{entry.pk}/sign/", {"feedback": "Agree.", "agrees": True}, format="json")

    assert response.status_code == 400
    assert "blind" in response.json()["non_field_errors"][0]
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED and entry.signed_by is None


def test_blind_review_sign_defaults_the_agreement_to_the_comparison(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)
    client = api_as(mentor)
    client.post(
        f"{URL}{entry.pk}/mentor-read/",
        {"lvef": 52, "lv_edvi": 78, "lge_pattern": "diffuse", "final_diagnosis": "cardiac AMYLOIDOSIS"},
        format="json",
    )

    response = client.post(f"{URL}{entry.pk}/sign/", {"feedback": "Good read.", "agrees": True}, format="json")

    assert response.status_code == 200, response.content
    # LVEF 48 vs 52 agrees; EDVi 70 vs 78 is more than 10 % off; LGE and diagnosis (case-folded) agree.
    assert response.json()["agreement"] == {
        "lvef": True,
        "lv_edvi": False,
        "lge_pattern": True,
        "final_diagnosis": True,
    }


def test_blind_review_mentor_read_is_recorded_once(blind_program, enrollment, mentor):
    entry = _with_read(enrollment, mentor)
    client = api_as(mentor)
    assert client.post(f"{URL}{entry.pk}/mentor-read/", {"lvef": 50}, format="json").status_code == 200

    response = client.post(f"{URL}{entry.pk}/mentor-read/", {"lvef": 20}, format="json")

    assert response.status_code == 400
    entry.refresh_from_db()
    assert entry.mentor_lvef == 50
    assert len(_events(entry, "entry.mentor_read")) == 1


def test_only_the_reviewing_mentor_records_the_mentors_read(
    blind_program, enrollment, trainee, other_enrollment, other_trainee, director, outsider, mentor
):
    entry = _with_read(enrollment, mentor)
    url = f"{URL}{entry.pk}/mentor-read/"

    assert api_as(trainee).post(url, {"lvef": 48}, format="json").status_code == 403
    assert api_as(other_trainee).post(url, {"lvef": 48}, format="json").status_code == 403
    assert api_as(director).post(url, {"lvef": 48}, format="json").status_code == 403
    assert api_as(outsider).post(url, {"lvef": 48}, format="json").status_code == 404
    entry.refresh_from_db()
    assert entry.mentor_read_at is None and entry.mentor_lvef is None


# --- sign with per-field agreement ------------------------------------------------------------------------------------


def test_sign_records_the_agreement_given(enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = api_as(mentor).post(
        f"{URL}{entry.pk}/sign/",
        {"feedback": "LVEF lower on my contours.", "agrees": False, "agreement": {"lvef": False, "lge_pattern": True}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["agreement"] == {"lvef": False, "lge_pattern": True}
    entry.refresh_from_db()
    assert entry.status == Status.SIGNED and entry.agreement == {"lvef": False, "lge_pattern": True}
    [event] = _events(entry, "entry.sign")
    assert event.after["agreement"] == {"lvef": False, "lge_pattern": True}


def test_sign_refuses_agreement_on_unknown_fields(enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = api_as(mentor).post(
        f"{URL}{entry.pk}/sign/",
        {"feedback": "Fine.", "agrees": True, "agreement": {"lvef": True, "heart_rate": True}},
        format="json",
    )

    assert response.status_code == 400
    assert "heart_rate" in str(response.json())
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED and entry.agreement == {}


def test_sign_refuses_agreement_values_that_are_not_yes_or_no(enrollment, mentor):
    entry = _with_read(enrollment, mentor)

    response = api_as(mentor).post(
        f"{URL}{entry.pk}/sign/", {"feedback": "Fine.", "agreement": {"lvef": "perhaps"}}, format="json"
    )

    assert response.status_code == 400
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED


# --- sign-batch -------------------------------------------------------------------------------------------------------


def test_sign_batch_signs_the_inbox_entries_and_reports_the_skipped_with_reasons(
    enrollment, other_enrollment, mentor, second_mentor
):
    mine = [EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True) for _ in range(3)]
    not_mine = EntryFactory(enrollment=other_enrollment, supervising_mentor=second_mentor, submitted=True)
    draft = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)
    already_signed = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    foreign = [not_mine, draft, already_signed]
    snapshot = {e.pk: (e.status, e.signed_by_id, e.signed_at, e.updated_at) for e in foreign}
    missing = max(e.pk for e in [*mine, *foreign]) + 1000

    response = api_as(mentor).post(
        f"{URL}sign-batch/",
        {"ids": [*(e.pk for e in mine), *(e.pk for e in foreign), missing], "feedback": "Reviewed, agree."},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert sorted(body["signed"]) == sorted(e.pk for e in mine)
    assert sorted((s["id"], s["reason"]) for s in body["skipped"]) == sorted(
        (pk, "not in your review inbox") for pk in [*(e.pk for e in foreign), missing]
    )
    for entry in mine:
        entry.refresh_from_db()
        assert entry.status == Status.SIGNED and entry.signed_by == mentor
        assert entry.mentor_feedback == "Reviewed, agree."
        assert [e.actor for e in _events(entry, "entry.sign")] == [mentor]
    assert {
        e.pk: (e.status, e.signed_by_id, e.signed_at, e.updated_at)
        for e in CaseLogEntry.objects.filter(pk__in=snapshot)
    } == snapshot
    assert AuditEvent.objects.filter(action="entry.sign").count() == 3


def test_sign_batch_of_20(enrollment, mentor):
    entries = [EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True) for _ in range(20)]

    response = api_as(mentor).post(
        f"{URL}sign-batch/", {"ids": [e.pk for e in entries], "feedback": "Agree."}, format="json"
    )

    assert response.status_code == 200
    assert sorted(response.json()["signed"]) == sorted(e.pk for e in entries)
    assert response.json()["skipped"] == []
    assert CaseLogEntry.objects.filter(status=Status.SIGNED).count() == 20
    assert AuditEvent.objects.filter(action="entry.sign", actor=mentor).count() == 20


def test_sign_batch_skips_an_entry_that_needs_a_blind_read_first(blind_program, enrollment, mentor):
    read = _with_read(enrollment, mentor, mentor_lvef=50, mentor_read_at=timezone.now())
    unread = _with_read(enrollment, mentor)

    response = api_as(mentor).post(
        f"{URL}sign-batch/", {"ids": [read.pk, unread.pk], "feedback": "Agree."}, format="json"
    )

    body = response.json()
    assert body["signed"] == [read.pk]
    [skipped] = body["skipped"]
    assert skipped["id"] == unread.pk and "blind" in skipped["reason"]
    unread.refresh_from_db()
    assert unread.status == Status.SUBMITTED


def test_sign_batch_by_a_trainee_signs_nothing(enrollment, trainee, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)

    response = api_as(trainee).post(f"{URL}sign-batch/", {"ids": [entry.pk], "feedback": "Self-signed."}, format="json")

    assert response.status_code == 200
    assert response.json() == {"signed": [], "skipped": [{"id": entry.pk, "reason": "not in your review inbox"}]}
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED


@pytest.mark.parametrize("payload", [{"ids": [], "feedback": "Agree."}, {"ids": [1], "feedback": "  "}])
def test_sign_batch_needs_ids_and_feedback(enrollment, mentor, payload):
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)

    response = api_as(mentor).post(f"{URL}sign-batch/", payload, format="json")

    assert response.status_code == 400
    assert not CaseLogEntry.objects.filter(status=Status.SIGNED).exists()


# --- signed entries: no edits, amendments -----------------------------------------------------------------------------


def test_signed_entry_cannot_be_patched_put_or_submitted_again(signed_entry, trainee, mentor):
    url = f"{URL}{signed_entry.pk}/"
    for user in (trainee, mentor):
        response = api_as(user).patch(url, {"lvef": 42, "impression": "Changed my mind."}, format="json")
        assert response.status_code == 403
    client = api_as(trainee)
    full = {k: v for k, v in _entry_payload(mentor).items() if k not in ("reference", "source", "categories")}
    assert client.put(url, full, format="json").status_code == 403
    assert client.post(f"{url}submit/").status_code == 403
    signed_entry.refresh_from_db()
    assert signed_entry.status == Status.SIGNED and signed_entry.lvef == 35
    assert signed_entry.impression == "Dilated cardiomyopathy with mid-wall septal LGE."


def test_trainee_amends_a_signed_entry_and_it_goes_back_for_review(signed_entry, trainee, mentor):
    response = api_as(trainee).post(
        f"{URL}{signed_entry.pk}/amend/", _amend_payload(signed_entry, lvef=42), format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lvef"] == 42 and body["status"] == "submitted"
    assert body["signed_by"] is None and body["signed_at"] is None and body["agreement"] == {}
    assert body["amendments"] == 1
    [amendment] = CaseLogAmendment.objects.filter(entry=signed_entry)
    assert amendment.amended_by == trainee and amendment.reason == "LVEF re-measured on the short-axis stack."
    assert amendment.before["status"] == "signed" and amendment.before["lvef"] == 35
    assert amendment.before["signed_by"] == mentor.email
    [event] = _events(signed_entry, "entry.amend")
    assert event.actor == trainee and event.after["lvef"] == 42


def test_mentor_amends_a_signed_entry_and_it_stays_signed(signed_entry, mentor):
    response = api_as(mentor).post(
        f"{URL}{signed_entry.pk}/amend/",
        _amend_payload(signed_entry, final_diagnosis="Familial DCM", reason="Genetics result."),
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["final_diagnosis"] == "Familial DCM"
    assert body["status"] == "signed" and body["signed_by"] == mentor.pk and body["agreement"] == {"lvef": True}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lvef": 42, "reason": ""}, "reason"),
        ({"lvef": 42, "reason": "   "}, "reason"),
        ({}, "non_field_errors"),  # nothing changed
        ({"lvef": 42, "reason": "Phoned on 07700 900123"}, "reason"),
        ({"final_diagnosis": "DCM in Mr Smith"}, "final_diagnosis"),
    ],
)
def test_amend_is_refused_and_nothing_changes(signed_entry, trainee, overrides, field):
    before = _row_counts()

    response = api_as(trainee).post(
        f"{URL}{signed_entry.pk}/amend/", _amend_payload(signed_entry, **overrides), format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    signed_entry.refresh_from_db()
    assert signed_entry.lvef == 35 and signed_entry.status == Status.SIGNED
    assert _row_counts() == before


def test_amend_checks_ownership(signed_entry, other_enrollment, other_trainee, director, outsider):
    url = f"{URL}{signed_entry.pk}/amend/"
    payload = _amend_payload(signed_entry, lvef=20)

    # A co-trainee and the director are members of the program without the role: 403; an outsider: 404.
    assert api_as(other_trainee).post(url, payload, format="json").status_code == 403
    assert api_as(director).post(url, payload, format="json").status_code == 403
    assert api_as(outsider).post(url, payload, format="json").status_code == 404
    signed_entry.refresh_from_db()
    assert signed_entry.lvef == 35 and not signed_entry.amendments.exists()


def test_only_signed_entries_are_amended(enrollment, trainee, mentor):
    for entry in (
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor),
        EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True),
    ):
        response = api_as(trainee).post(f"{URL}{entry.pk}/amend/", _amend_payload(entry, lvef=42), format="json")
        assert response.status_code == 403
    assert not CaseLogAmendment.objects.exists()


# --- the list: filters, amendment counts, a constant number of queries ------------------------------------------------


def test_list_filters(enrollment, trainee, mentor):
    def entry(days_ago, categories, **fields):
        return EntryFactory(
            enrollment=enrollment,
            supervising_mentor=mentor,
            performed_on=TODAY() - datetime.timedelta(days=days_ago),
            case__categories=categories,
            **fields,
        )

    old_signed = entry(30, ["valvular"], signed=True, delivery="asynchronous")
    hands_on = entry(10, ["congenital"], submitted=True, interpreted=False, assisted_console=True, protocolled=True)
    recent_draft = entry(2, ["valvular", "masses"], observed_in_room=True)
    client = api_as(trainee)

    def ids(**params):
        return set(_ids(client.get(URL, params)))

    assert ids() == {old_signed.pk, hands_on.pk, recent_draft.pk}
    assert ids(status="signed") == {old_signed.pk}
    assert ids(status="draft") == {recent_draft.pk}
    assert ids(delivery="asynchronous") == {old_signed.pk}
    assert ids(role="assisted_console") == {hands_on.pk}
    assert ids(role="protocolled") == {hands_on.pk}
    assert ids(role="observed_in_room") == {recent_draft.pk}
    assert ids(category="valvular") == {old_signed.pk, recent_draft.pk}
    assert ids(date_from=(TODAY() - datetime.timedelta(days=15)).isoformat()) == {hands_on.pk, recent_draft.pk}
    assert ids(category="valvular", date_from=(TODAY() - datetime.timedelta(days=15)).isoformat()) == {recent_draft.pk}
    assert client.get(URL, {"role": "not-a-role"}).status_code == 400


def _logged(enrollment, other_enrollment, mentor, n: int) -> list[CaseLogEntry]:
    entries = []
    for i in range(n):
        entry = EntryFactory(
            enrollment=enrollment if i % 2 else other_enrollment,
            supervising_mentor=mentor,
            case__categories=["valvular", "masses"],
            signed=True,
        )
        for j in range(i % 3):  # 0, 1 or 2 amendments
            services.entry_amend(actor=mentor, entry=entry, reason="Typo.", impression=f"Corrected read {i}.{j}.")
        entries.append(entry)
    return entries


def test_list_shows_the_amendment_count(enrollment, other_enrollment, mentor):
    other_enrollment.mentors.add(mentor)
    entries = _logged(enrollment, other_enrollment, mentor, 6)

    response = api_as(mentor).get(URL)

    counts = {e["id"]: e["amendments"] for e in response.json()["results"]}
    assert counts == {e.pk: i % 3 for i, e in enumerate(entries)}
    # Filtered by a topic (a join through the categories), the count is still per entry, not per joined row.
    response = api_as(mentor).get(URL, {"category": "valvular"})
    assert {e["id"]: e["amendments"] for e in response.json()["results"]} == counts


def test_list_uses_the_same_queries_for_3_and_30_entries(director, enrollment, other_enrollment, mentor):
    other_enrollment.mentors.add(mentor)
    _logged(enrollment, other_enrollment, mentor, 3)
    # 1. session  2. user  3. "is a director?" (MFA rule)  4. the user's TOTP/WebAuthn authenticators
    # 5. COUNT(*) for the page (the programs they direct are a subquery, not a query)
    # 6. the page of entries with case, enrollment, trainee, program, mentor, signer joined and the amendment count
    # annotated  7. prefetch of the cases' categories
    assert_query_count_flat(
        api_as(director), URL, lambda: _logged(enrollment, other_enrollment, mentor, 27), expected=7
    )


def test_list_query_count_is_the_same_for_a_mentor_with_blinded_entries(
    blind_program, enrollment, other_enrollment, mentor
):
    # Blinding the read per entry must not cost a query per entry (program.blind_review comes with the join).
    other_enrollment.mentors.add(mentor)

    def grow(n: int):
        for _ in range(n):
            _with_read(enrollment, mentor)

    grow(3)
    # 1. session  2. user  3. "is a director?" (MFA rule)  4. COUNT(*) for the page  5. the page of entries with
    # their joins  6. prefetch of the cases' categories
    response = assert_query_count_flat(api_as(mentor), URL, lambda: grow(27), expected=6)

    assert all(e["impression"] is None for e in response.json()["results"])
