"""The case-log list page (for a trainee and for a mentor) and the mentor's review inbox: their query counts do not
grow with the number of entries (healthchecks' hc/api/tests/test_list_checks.py)."""

import pytest
from django.urls import reverse

from cases import services

from ..factories import EntryFactory
from ..queries import assert_query_count_flat
from .helpers import web

pytestmark = pytest.mark.django_db


def _logged(enrollment, other_enrollment, mentor, n: int) -> None:
    """`n` entries, alternately of the two trainees, each case with two topics: every third signed and then amended
    by the mentor, the others submitted."""
    for i in range(n):
        signed = i % 3 == 0
        entry = EntryFactory(
            enrollment=enrollment if i % 2 else other_enrollment,
            supervising_mentor=mentor,
            case__categories=["valvular", "masses"],
            **({"signed": True} if signed else {"submitted": True}),
        )
        if signed:
            services.entry_amend(actor=mentor, entry=entry, reason="Typo.", impression=f"Corrected read {i}.")


def test_case_log_list_page_query_count_does_not_grow_for_a_trainee(trainee, enrollment, other_enrollment, mentor):
    _logged(enrollment, other_enrollment, mentor, 6)  # 3 of them the trainee's
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. the active enrollment  6. navigation roles  7. the page of entries with joins  8. prefetch of categories
    assert_query_count_flat(
        web(trainee),
        reverse("cases:list"),
        lambda: _logged(enrollment, other_enrollment, mentor, 54),
        expected=8,
    )


def test_case_log_list_page_query_count_does_not_grow_for_a_mentor(mentor, enrollment, other_enrollment):
    other_enrollment.mentors.add(mentor)
    _logged(enrollment, other_enrollment, mentor, 3)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. the active enrollment (none: a mentor)  6. navigation roles  7. the page of entries with joins
    # 8. prefetch of the cases' categories
    assert_query_count_flat(
        web(mentor),
        reverse("cases:list"),
        lambda: _logged(enrollment, other_enrollment, mentor, 27),
        expected=8,
    )


def test_review_inbox_query_count_does_not_grow(mentor, enrollment, other_enrollment):
    other_enrollment.mentors.add(mentor)
    _logged(enrollment, other_enrollment, mentor, 3)
    # 1. session  2. user  3. "is a director?" (MFA middleware)  4. COUNT(*) for the paginator
    # 5. navigation roles  6. the page of submitted entries with joins  7. prefetch of categories
    assert_query_count_flat(
        web(mentor),
        reverse("cases:inbox"),
        lambda: _logged(enrollment, other_enrollment, mentor, 27),
        expected=7,
    )
