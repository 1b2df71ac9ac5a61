"""Level II progress: the pure `level2_progress` at its boundaries, and `gather_facts` counting signed entries only."""

import datetime
from decimal import Decimal

import pytest

from cases.models import CaseLogEntry
from trainees.progress import Facts, gather_facts, level2_progress

from ..factories import EntryFactory

TODAY = datetime.date(2026, 11, 20)


def _facts(**overrides) -> Facts:
    values = {
        "start_date": TODAY,
        "end_date": None,
        "fte_fraction": Decimal("1.00"),
        "carried_forward_cases": 0,
        "carried_forward_months": Decimal("0"),
        "signed_interpreted": 0,
        "signed_hands_on": 0,
        "pending": 0,
        "drafts": 0,
    }
    values.update(overrides)
    return Facts(**values)


def _report(facts: Facts, today: datetime.date = TODAY) -> dict:
    return {r.key: r for r in level2_progress(facts, today=today)}


def _days_ago(days: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=days)


# --- cases --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("interpreted", "met"), [(0, False), (149, False), (150, True), (151, True)])
def test_interpreted_requirement_is_met_at_exactly_150(interpreted, met):
    requirement = _report(_facts(signed_interpreted=interpreted))["interpreted"]

    assert requirement.required == 150
    assert requirement.achieved == interpreted
    assert requirement.met is met
    assert requirement.remaining == max(150 - interpreted, 0)


@pytest.mark.parametrize(("hands_on", "met"), [(49, False), (50, True)])
def test_hands_on_requirement_is_met_at_exactly_50(hands_on, met):
    requirement = _report(_facts(signed_hands_on=hands_on))["hands_on"]

    assert requirement.required == 50
    assert requirement.met is met
    assert requirement.remaining == (1 if hands_on == 49 else 0)


def test_carried_forward_cases_count_toward_interpretations():
    report = _report(_facts(signed_interpreted=100, carried_forward_cases=50))

    assert report["interpreted"].achieved == 150 and report["interpreted"].met
    assert report["hands_on"].achieved == 0  # Level I cases carry forward as interpretations only


def test_carried_forward_cases_one_short_is_not_met():
    assert not _report(_facts(signed_interpreted=99, carried_forward_cases=50))["interpreted"].met


def test_pending_and_draft_entries_do_not_count():
    report = _report(_facts(signed_interpreted=149, pending=10, drafts=10))

    assert report["interpreted"].achieved == 149 and not report["interpreted"].met


def test_percent_is_capped_at_100():
    assert _report(_facts(signed_interpreted=400))["interpreted"].percent == 100
    assert _report(_facts(signed_interpreted=75))["interpreted"].percent == 50


# --- duration -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("months", "met"), [("3.0", True), ("2.9", False), ("3.1", True)])
def test_duration_is_met_at_three_months_fte(months, met):
    requirement = _report(_facts(carried_forward_months=Decimal(months)))["duration"]

    assert requirement.required == 3
    assert requirement.achieved == Decimal(months)
    assert requirement.met is met


def test_three_months_of_full_time_days_meet_the_duration():
    # 3 × 30.44 days = 91.32 days: the 92nd day completes three months.
    requirement = _report(_facts(start_date=_days_ago(92)))["duration"]

    assert requirement.achieved == Decimal("3.0") and requirement.met


@pytest.mark.parametrize("days", [89, 90, 91])
def test_just_under_three_months_of_days_is_not_met(days):
    # 90 days are 2.96 months and 91 days 2.99: the requirement is "at least 3 months", so rounding the achieved
    # months to one decimal must not turn them into a met requirement.
    requirement = _report(_facts(start_date=_days_ago(days)))["duration"]

    assert not requirement.met, f"{days} days = {days / 30.44:.3f} months reported as {requirement.achieved} (met)"


def test_carried_forward_months_add_to_time_in_the_program():
    # 61 days ≈ 2.0 months + 1.0 month of Level I training.
    requirement = _report(_facts(start_date=_days_ago(61), carried_forward_months=Decimal("1.0")))["duration"]

    assert requirement.achieved == Decimal("3.0") and requirement.met


def test_half_time_halves_the_duration():
    start = _days_ago(183)  # 6.01 months of calendar time

    full = _report(_facts(start_date=start, fte_fraction=Decimal("1.00")))["duration"]
    half = _report(_facts(start_date=start, fte_fraction=Decimal("0.50")))["duration"]

    assert full.achieved == Decimal("6.0")
    assert half.achieved == Decimal("3.0") and half.met


def test_half_time_for_three_calendar_months_is_not_met():
    assert not _report(_facts(start_date=_days_ago(120), fte_fraction=Decimal("0.50")))["duration"].met


def test_end_date_caps_the_time_counted():
    start = _days_ago(365)
    facts = _facts(start_date=start, end_date=start + datetime.timedelta(days=61))

    assert _report(facts)["duration"].achieved == Decimal("2.0")
    assert _report(facts, today=TODAY + datetime.timedelta(days=400))["duration"].achieved == Decimal("2.0")


def test_a_future_end_date_does_not_count_days_not_yet_trained():
    facts = _facts(start_date=_days_ago(61), end_date=TODAY + datetime.timedelta(days=300))

    assert _report(facts)["duration"].achieved == Decimal("2.0")


def test_a_start_date_in_the_future_counts_no_time():
    facts = _facts(start_date=TODAY + datetime.timedelta(days=10))

    assert _report(facts)["duration"].achieved == Decimal("0.0")


def test_requirements_serialise_to_plain_json_values():
    data = [r.as_dict() for r in level2_progress(_facts(signed_interpreted=150), today=TODAY)]

    duration, interpreted, hands_on = data
    assert duration["required"] == 3.0 and isinstance(duration["achieved"], float)
    assert interpreted["met"] is True and interpreted["remaining"] == 0
    assert hands_on["met"] is False and hands_on["remaining"] == 50


# --- gather_facts -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_gather_facts_counts_only_signed_entries(enrollment, other_enrollment, mentor, django_assert_num_queries):
    def entry(enr=enrollment, **kwargs):
        return EntryFactory(enrollment=enr, supervising_mentor=mentor, **kwargs)

    entry(signed=True)
    entry(signed=True)
    entry(signed=True, interpreted=False, acquired_hands_on=True)
    entry(signed=True, interpreted=True, acquired_hands_on=True)
    entry(signed=True, interpreted=False, observed_console=True)
    entry(submitted=True, acquired_hands_on=True)
    entry(acquired_hands_on=True)  # draft
    entry(status=CaseLogEntry.Status.RETURNED, returned_reason="Add LGE.")
    entry(enr=other_enrollment, signed=True, acquired_hands_on=True)

    with django_assert_num_queries(1):
        facts = gather_facts(enrollment)

    assert facts.signed_interpreted == 3
    assert facts.signed_hands_on == 2
    assert facts.pending == 1
    assert facts.drafts == 2
    assert facts.start_date == enrollment.start_date


@pytest.mark.django_db
def test_gather_facts_carries_the_enrollment_terms(enrollment):
    enrollment.fte_fraction = Decimal("0.50")
    enrollment.carried_forward_cases = 50
    enrollment.carried_forward_months = Decimal("1.5")
    enrollment.save()

    facts = gather_facts(enrollment)

    assert facts.fte_fraction == Decimal("0.5")
    assert facts.carried_forward_cases == 50
    assert facts.carried_forward_months == Decimal("1.5")
    assert facts.signed_interpreted == facts.signed_hands_on == facts.pending == facts.drafts == 0
