"""Signing a batch of entries from the review inbox (web): a confirmation page first, then one signature and one
audit event per entry; only entries of the mentor's own inbox, and never one that still needs a blind read."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseLogEntry
from trainingportal.core.models import AuditEvent

from ..factories import EnrollmentFactory, EntryFactory, UserFactory
from ..queries import assert_same_query_count, captured_queries
from .helpers import _with_read, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status


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
            # Refused as a whole: the inbox again, with the reason.
            assert response.status_code == 400
            assert [t.name for t in response.templates][0] == "cases/review_inbox.html"

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

    def confirm_page(selected):
        response = client.post(
            reverse("cases:sign_batch"), {"entries": [e.pk for e in selected], "mentor_feedback": "Agree."}
        )
        assert response.status_code == 200
        return response

    confirm_page(entries[:3])  # warm-up: content types, first-request caches
    _, small = captured_queries(lambda: confirm_page(entries[:3]))
    _, large = captured_queries(lambda: confirm_page(entries))
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. the selected entries of the inbox with their
    # joins (validates the selection; the page lists the same rows)  5. prefetch of their categories
    # 6. navigation roles. None of them per entry.
    assert_same_query_count(small, large, expected=6)
