"""Group reviews: a mentor records one case reviewed with several trainees, and each trainee gets a draft entry to
complete with their own read and submit. Only trainees the mentor supervises; only mentors record them."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Case, CaseLogEntry, GroupReview
from curriculum.models import Category
from trainingportal.core.models import AuditEvent

from ..factories import EnrollmentFactory
from .helpers import _amend_form_data, _row_counts, web

pytestmark = pytest.mark.django_db

Status = CaseLogEntry.Status
TODAY = timezone.localdate


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

    assert response.status_code == 400
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
