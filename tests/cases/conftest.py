"""Fixtures shared by the case-log tests (the cast itself is in tests/conftest.py)."""

import pytest

from programs.models import Membership

from ..factories import EntryFactory, MembershipFactory, UserFactory


@pytest.fixture
def blind_program(program):
    program.blind_review = True
    program.save(update_fields=["blind_review"])
    return program


@pytest.fixture
def second_mentor(program, other_enrollment):
    """Another mentor of the program, who supervises `other_trainee` (not `trainee`)."""
    user = UserFactory(email="second.mentor@example.test", full_name="Sam Second")
    MembershipFactory(user=user, program=program, role=Membership.Role.MENTOR)
    other_enrollment.mentors.add(user)
    return user


@pytest.fixture
def signed_entry(enrollment, mentor):
    """`trainee`'s entry, signed by `mentor` with LVEF 35 and one field of agreement recorded."""
    return EntryFactory(
        enrollment=enrollment,
        supervising_mentor=mentor,
        signed=True,
        lvef=35,
        final_diagnosis="Dilated cardiomyopathy",
        agreement={"lvef": True},
    )
