"""Case-log services: create, update, submit, sign, return — validation, conditional state moves and the audit trail."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases import services
from cases.models import Case, CaseLogEntry
from curriculum.models import Category
from programs.models import Membership
from trainingportal.core.models import AuditEvent

from ..factories import EntryFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


def _create(enrollment, mentor, **overrides):
    data = {
        "actor": enrollment.trainee,
        "enrollment": enrollment,
        "reference": "CS-0001",
        "source": Case.Source.CENTER_ARCHIVE,
        "complete_study": True,
        "indication": "Suspected myocarditis",
        "categories": list(Category.objects.filter(slug="cardiomyopathy")),
        "performed_on": timezone.localdate() - datetime.timedelta(days=2),
        "interpreted": True,
        "delivery": CaseLogEntry.Delivery.IN_PERSON,
        "supervising_mentor": mentor,
        "findings": "LVEF 55%, LV EDVi 82 ml/m2.",
        "impression": "Normal study.",
    }
    data.update(overrides)
    return services.entry_create(**data)


def _row_counts() -> tuple[int, int, int]:
    return Case.objects.count(), CaseLogEntry.objects.count(), AuditEvent.objects.count()


def _events(entry, action: str):
    return list(AuditEvent.objects.filter(object_type="cases.caselogentry", object_id=str(entry.pk), action=action))


@pytest.fixture
def submitted(enrollment, mentor):
    return EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)


@pytest.fixture
def second_mentor(program, enrollment):
    user = UserFactory(email="second.mentor@example.test", full_name="Sam Second")
    MembershipFactory(user=user, program=program, role=Membership.Role.MENTOR)
    enrollment.mentors.add(user)
    return user


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_saves_a_draft_entry_its_case_and_an_audit_event(enrollment, mentor):
    entry = _create(enrollment, mentor)

    assert entry.status == Status.DRAFT
    assert entry.case.reference == "CS-0001" and entry.case.program == enrollment.program
    assert list(entry.case.categories.values_list("slug", flat=True)) == ["cardiomyopathy"]
    [event] = _events(entry, "entry.create")
    assert event.actor == enrollment.trainee
    assert event.before is None
    assert event.after["status"] == "draft" and event.after["case"] == "CS-0001"
    assert event.after["roles"] == ["interpreted"]


def test_create_reuses_the_case_with_the_same_reference_case_insensitively(enrollment, mentor):
    first = _create(enrollment, mentor, reference="CS-0001")
    second = _create(
        enrollment, mentor, reference=" cs-0001 ", categories=list(Category.objects.filter(slug="fibrosis-edema"))
    )

    assert second.case_id == first.case_id
    assert Case.objects.count() == 1
    assert set(first.case.categories.values_list("slug", flat=True)) == {"cardiomyopathy", "fibrosis-edema"}


def test_create_with_submit_submits_and_audits_both_steps(enrollment, mentor):
    entry = _create(enrollment, mentor, submit=True)

    assert entry.status == Status.SUBMITTED and entry.submitted_at is not None
    assert len(_events(entry, "entry.create")) == 1
    assert len(_events(entry, "entry.submit")) == 1


def test_create_refuses_phi_in_findings_naming_the_field_and_saves_nothing(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, reference="CS-PHI-1", findings="LVEF 40%. MRN 12345678, seen last year.")

    errors = exc_info.value.message_dict
    assert list(errors) == ["findings"]
    assert "Findings" in errors["findings"][0]
    assert "medical record number" in errors["findings"][0]
    assert _row_counts() == before
    assert not Case.objects.filter(reference="CS-PHI-1").exists()


def test_create_refuses_phi_in_the_indication_before_creating_the_case(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, indication="Mrs Jones, chest pain")

    assert "Indication" in exc_info.value.message_dict["indication"][0]
    assert _row_counts() == before


@pytest.mark.parametrize("field", ["impression", "key_measurements"])
def test_create_refuses_phi_in_every_free_text_field(enrollment, mentor, field):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, **{field: "Discussed with the GP on +44 20 7946 0958"})

    assert field in exc_info.value.message_dict
    assert _row_counts() == before


def test_create_without_a_role_is_refused(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, interpreted=False)

    assert "roles" in exc_info.value.message_dict
    assert _row_counts() == before


def test_create_with_a_future_date_is_refused(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, performed_on=timezone.localdate() + datetime.timedelta(days=1))

    assert "future" in exc_info.value.message_dict["performed_on"][0]
    assert _row_counts() == before


def test_create_with_todays_date_is_accepted(enrollment, mentor):
    assert _create(enrollment, mentor, performed_on=timezone.localdate()).pk


def test_create_with_a_mentor_who_does_not_supervise_the_trainee_is_refused(enrollment, mentor, outsider):
    with pytest.raises(ValidationError) as exc_info:
        _create(enrollment, mentor, supervising_mentor=outsider)

    assert "supervising_mentor" in exc_info.value.message_dict
    assert CaseLogEntry.objects.count() == 0


def test_only_the_trainee_logs_their_own_cases(enrollment, mentor):
    before = _row_counts()

    with pytest.raises(ValidationError):
        _create(enrollment, mentor, actor=mentor)

    assert _row_counts() == before


def test_create_refuses_a_reference_that_is_not_pseudonymous(enrollment, mentor):
    with pytest.raises(ValidationError):
        _create(enrollment, mentor, reference="John Smith")

    assert Case.objects.count() == 0


# --- update -----------------------------------------------------------------------------------------------------------


def test_update_of_a_draft_audits_before_and_after(enrollment, mentor):
    entry = _create(enrollment, mentor)

    services.entry_update(actor=enrollment.trainee, entry=entry, impression="Mild LV dilatation.")

    entry.refresh_from_db()
    assert entry.impression == "Mild LV dilatation."
    [event] = _events(entry, "entry.update")
    assert event.actor == enrollment.trainee
    assert event.before["impression"] == "Normal study."
    assert event.after["impression"] == "Mild LV dilatation."


def test_update_cannot_change_status_or_signer(enrollment, mentor):
    entry = _create(enrollment, mentor)

    with pytest.raises(ValidationError):
        services.entry_update(actor=enrollment.trainee, entry=entry, status=Status.SIGNED, signed_by=mentor)

    entry.refresh_from_db()
    assert entry.status == Status.DRAFT and entry.signed_by is None


def test_update_refuses_phi_and_keeps_the_old_text(enrollment, mentor):
    entry = _create(enrollment, mentor)

    with pytest.raises(ValidationError) as exc_info:
        services.entry_update(actor=enrollment.trainee, entry=entry, findings="DOB 03/04/1961")

    assert "findings" in exc_info.value.message_dict
    entry.refresh_from_db()
    assert entry.findings == "LVEF 55%, LV EDVi 82 ml/m2."
    assert _events(entry, "entry.update") == []


def test_signed_entry_cannot_be_updated(enrollment, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor, signed=True)
    events_before = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as exc_info:
        services.entry_update(actor=enrollment.trainee, entry=entry, impression="Changed my mind.")

    assert "can no longer be edited" in exc_info.value.messages[0]
    entry.refresh_from_db()
    assert entry.impression == "Dilated cardiomyopathy with mid-wall septal LGE."
    assert entry.status == Status.SIGNED
    assert AuditEvent.objects.count() == events_before


def test_submitted_entry_cannot_be_updated(submitted, enrollment):
    with pytest.raises(ValidationError):
        services.entry_update(actor=enrollment.trainee, entry=submitted, impression="Changed my mind.")

    submitted.refresh_from_db()
    assert submitted.impression == "Dilated cardiomyopathy with mid-wall septal LGE."


# --- submit -----------------------------------------------------------------------------------------------------------


def test_submit_moves_a_draft_to_submitted_and_audits_it(enrollment, mentor):
    entry = _create(enrollment, mentor)

    entry = services.entry_submit(actor=enrollment.trainee, entry=entry)

    assert entry.status == Status.SUBMITTED and entry.submitted_at is not None
    [event] = _events(entry, "entry.submit")
    assert event.actor == enrollment.trainee
    assert event.before["status"] == "draft" and event.after["status"] == "submitted"


def test_submitting_twice_is_refused(enrollment, mentor):
    entry = _create(enrollment, mentor)
    services.entry_submit(actor=enrollment.trainee, entry=entry)

    with pytest.raises(ValidationError):
        services.entry_submit(actor=enrollment.trainee, entry=entry)

    assert len(_events(entry, "entry.submit")) == 1


# --- sign -------------------------------------------------------------------------------------------------------------


def test_sign_records_signer_feedback_and_an_audit_event(submitted, mentor):
    entry = services.entry_sign(actor=mentor, entry=submitted, feedback="  Agree; note the septal LGE.  ", agrees=True)

    assert entry.status == Status.SIGNED
    assert entry.signed_by == mentor and entry.signed_at is not None
    assert entry.mentor_feedback == "Agree; note the septal LGE."
    assert entry.mentor_agrees is True
    [event] = _events(entry, "entry.sign")
    assert event.actor == mentor
    assert event.before["status"] == "submitted"
    assert event.after["status"] == "signed" and event.after["agrees"] is True


@pytest.mark.parametrize("feedback", ["", "   \n "])
def test_sign_requires_feedback(submitted, mentor, feedback):
    with pytest.raises(ValidationError) as exc_info:
        services.entry_sign(actor=mentor, entry=submitted, feedback=feedback, agrees=True)

    assert "mentor_feedback" in exc_info.value.message_dict
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED and submitted.signed_by is None
    assert _events(submitted, "entry.sign") == []


def test_sign_refuses_phi_in_feedback(submitted, mentor):
    with pytest.raises(ValidationError) as exc_info:
        services.entry_sign(actor=mentor, entry=submitted, feedback="Spoke to Mr Smith about it.", agrees=True)

    assert "Feedback" in exc_info.value.message_dict["mentor_feedback"][0]
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED


def test_signing_twice_is_refused(submitted, mentor):
    services.entry_sign(actor=mentor, entry=submitted, feedback="Good read.", agrees=True)
    stale = CaseLogEntry.objects.get(pk=submitted.pk)
    stale.status = Status.SUBMITTED  # what a double click or a second browser tab still believes

    with pytest.raises(ValidationError):
        services.entry_sign(actor=mentor, entry=stale, feedback="Good read (again).", agrees=False)

    submitted.refresh_from_db()
    assert submitted.mentor_feedback == "Good read." and submitted.mentor_agrees is True
    assert len(_events(submitted, "entry.sign")) == 1


def test_second_mentor_cannot_overwrite_the_signature(submitted, mentor, second_mentor):
    # Both mentors loaded the entry while it was submitted; the first one signs.
    seen_by_second = CaseLogEntry.objects.get(pk=submitted.pk)
    services.entry_sign(actor=mentor, entry=submitted, feedback="Agree.", agrees=True)
    signed = CaseLogEntry.objects.get(pk=submitted.pk)

    with pytest.raises(ValidationError) as exc_info:
        services.entry_sign(actor=second_mentor, entry=seen_by_second, feedback="I disagree.", agrees=False)

    assert "signed" in exc_info.value.messages[0]
    submitted.refresh_from_db()
    assert submitted.signed_by == mentor
    assert submitted.signed_at == signed.signed_at
    assert submitted.mentor_feedback == "Agree." and submitted.mentor_agrees is True
    assert [e.actor for e in _events(submitted, "entry.sign")] == [mentor]


def test_a_draft_cannot_be_signed(enrollment, mentor):
    entry = EntryFactory(enrollment=enrollment, supervising_mentor=mentor)

    with pytest.raises(ValidationError):
        services.entry_sign(actor=mentor, entry=entry, feedback="Good.", agrees=True)

    entry.refresh_from_db()
    assert entry.status == Status.DRAFT and entry.signed_by is None


# --- return -----------------------------------------------------------------------------------------------------------


def test_return_with_a_reason_and_audit(submitted, mentor):
    entry = services.entry_return(actor=mentor, entry=submitted, reason="  Add the LGE pattern.  ")

    assert entry.status == Status.RETURNED
    assert entry.returned_reason == "Add the LGE pattern."
    assert entry.signed_by is None
    [event] = _events(entry, "entry.return")
    assert event.actor == mentor
    assert event.before["status"] == "submitted" and event.after["status"] == "returned"


def test_return_requires_a_reason(submitted, mentor):
    with pytest.raises(ValidationError) as exc_info:
        services.entry_return(actor=mentor, entry=submitted, reason=" ")

    assert "returned_reason" in exc_info.value.message_dict
    submitted.refresh_from_db()
    assert submitted.status == Status.SUBMITTED


def test_a_signed_entry_cannot_be_returned(submitted, mentor):
    services.entry_sign(actor=mentor, entry=submitted, feedback="Good.", agrees=True)

    with pytest.raises(ValidationError):
        services.entry_return(actor=mentor, entry=submitted, reason="Actually, redo it.")

    submitted.refresh_from_db()
    assert submitted.status == Status.SIGNED and submitted.returned_reason == ""


def test_returned_entry_can_be_corrected_resubmitted_and_signed(submitted, mentor, enrollment):
    services.entry_return(actor=mentor, entry=submitted, reason="Add the LGE pattern.")

    entry = services.entry_update(
        actor=enrollment.trainee, entry=submitted, impression="DCM, mid-wall septal LGE.", submit=True
    )
    assert entry.status == Status.SUBMITTED
    entry = services.entry_sign(actor=mentor, entry=entry, feedback="Better.", agrees=True)

    assert entry.status == Status.SIGNED and entry.returned_reason == ""
    actions = list(
        AuditEvent.objects.filter(object_type="cases.caselogentry", object_id=str(entry.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["entry.return", "entry.update", "entry.submit", "entry.sign"]
