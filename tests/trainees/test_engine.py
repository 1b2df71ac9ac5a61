"""The requirement engine, pure: Facts built by hand, rulesets from the shipped files or from dicts, no database.

Nothing here is marked `django_db` (except the one test that counts queries), so any ORM access inside `evaluate`
would fail the test with pytest-django's "Database access not allowed".
"""

import dataclasses
import json
import math
from datetime import date, timedelta
from decimal import Decimal

import pytest

from trainingportal.engine import (
    EntryFact,
    Facts,
    LectureFact,
    ProgramFacts,
    SessionFact,
    SignOffFact,
    evaluate,
    get_ruleset,
    list_rulesets,
)
from trainingportal.engine.evaluate import (
    CURRICULUM,
    VIRTUAL_CITATION,
    cumulative_points,
    fte_months,
    months_before,
    overlay_note,
    tally_entries,
    virtual_cap,
)
from trainingportal.engine.facts import LOW_MENTOR, NO_CONSOLE, NOT_LINKED, OVER_VIRTUAL_SHARE
from trainingportal.engine.rulesets import parse_ruleset

TODAY = date(2026, 11, 20)
LEVEL_1 = "scmr-2018-level-1"
LEVEL_2 = "scmr-2018-level-2"
LEVEL_3 = "scmr-2018-level-3"
CBCMR = "cbcmr-exam-eligibility"


# --- builders ---------------------------------------------------------------------------------------------------


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def entry(id: int = 1, *, days_ago: int = 1, roles=("interpreted",), delivery="in_person", **fields) -> EntryFact:
    """A signed entry; signed by a Level III mentor unless `signer_level` says otherwise."""
    categories = frozenset(fields.pop("categories", ()))
    fields.setdefault("signer_level", "III")
    return EntryFact(
        id=id, date=ago(days_ago), roles=frozenset(roles), delivery=delivery, categories=categories, **fields
    )


def entries(n: int, *, first_id: int = 1, days_ago: int = 1, **fields) -> tuple[EntryFact, ...]:
    return tuple(entry(first_id + i, days_ago=days_ago, **fields) for i in range(n))


def facts(*, entries=(), start_days_ago: int = 365, **fields) -> Facts:
    return Facts(enrollment_id=7, start_date=ago(start_days_ago), entries=tuple(entries), **fields)


def ruleset(*requirements: dict, overlay: bool = False, scmr: bool = False, **extra):
    data = {
        "id": "test-rules",
        "title": "Test rules",
        "version": 1,
        "body": "TEST",
        "target_level": "II",
        "scmr": scmr,
        "virtual_overlay": overlay,
        "requirements": [{"label": f"Rule {r['key']}", **r} for r in requirements],
        **extra,
    }
    return parse_ruleset(data, origin="test-rules.yaml")


def rule(kind: str, key: str = "r", **params) -> dict:
    return {"key": key, "kind": kind, **params}


def only(f: Facts, *requirements: dict, overlay: bool = False, today: date = TODAY):
    """The result of the first requirement of a throwaway ruleset."""
    report = evaluate(f, ruleset(*requirements, overlay=overlay), today=today)
    return report.requirements[0]


def shipped(f: Facts, ruleset_id: str, key: str, today: date = TODAY):
    return evaluate(f, get_ruleset(ruleset_id), today=today).requirement(key)


# --- min_duration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "met", "shown"),
    [
        (92, True, 3.0),  # 92 / 30.44 = 3.02 months
        (91, False, 2.9),  # 2.989 months: shown rounded *down*, never as 3.0
        (0, False, 0.0),
        (365, True, 11.9),
    ],
)
def test_duration_is_met_from_three_months_of_30_44_days(days, met, shown):
    result = only(facts(start_days_ago=days), rule("min_duration", months=3))

    assert result.met is met
    assert result.achieved == shown
    assert result.unit == "months" and result.required == 3.0


def test_duration_just_under_three_months_says_what_is_missing():
    result = only(facts(start_days_ago=91), rule("min_duration", months=3))

    assert result.remaining == 0.1
    assert result.missing == "0.1 more months of training (full-time equivalent)"


@pytest.mark.parametrize(
    ("ruleset_id", "required", "days_short_of"),
    [(LEVEL_1, 1, 30), (LEVEL_2, 3, 91), (LEVEL_3, 12, 365)],
)
def test_duration_one_step_below_never_shows_zero_remaining(ruleset_id, required, days_short_of):
    # 30 days = 0.98 months (shown 0.9), 365 days = 11.99 (shown 11.9): 0.1 months are still missing.
    result = shipped(facts(start_days_ago=days_short_of), ruleset_id, "duration")

    assert not result.met
    assert result.remaining == 0.1, f"{result.required} - {result.achieved} shown as {result.remaining}"
    assert result.missing.startswith("0.1 more months")


def test_duration_remaining_is_the_difference_of_the_shown_values():
    # 83 days = 2.72 months, shown 2.7: 0.3 months to go.
    result = only(facts(start_days_ago=83), rule("min_duration", months=3))

    assert result.achieved == 2.7
    assert result.remaining == 0.3
    assert result.missing.startswith("0.3 more months")


def test_duration_exactly_at_three_months_is_met():
    # Exactly 3.0 is reachable only through carried-forward time: 3.0 months and a start today.
    result = only(
        facts(start_days_ago=0, carried_forward_months=Decimal("3.0")),
        rule("min_duration", months=3, carried_forward=True),
    )

    assert result.met and result.achieved == 3.0 and result.remaining == 0


@pytest.mark.parametrize(("days", "met"), [(183, True), (182, False)])
def test_half_time_halves_the_months(days, met):
    # 183 days at 0.5 FTE = 3.006 months; 182 days = 2.989.
    result = only(facts(start_days_ago=days, fte_fraction=Decimal("0.5")), rule("min_duration", months=3))

    assert result.met is met


def test_half_time_counts_half_of_the_full_time_months():
    full = fte_months(facts(start_days_ago=200), TODAY)
    half = fte_months(facts(start_days_ago=200, fte_fraction=Decimal("0.5")), TODAY)

    assert half == full / 2


@pytest.mark.parametrize(
    ("leave", "met"),
    [
        ((), True),  # 100 days = 3.28 months
        (((ago(50), ago(41)),), False),  # 10 days of leave (inclusive): 90 days = 2.96 months
        (((ago(50), ago(43)),), True),  # 8 days: 92 days
        (((ago(50), ago(44)),), True),
        (((ago(400), ago(380)),), True),  # before the start: no effect
        (((ago(60), ago(56)), (ago(20), ago(16))), False),  # 2 x 5 days
    ],
)
def test_leave_is_excluded_from_the_duration(leave, met):
    result = only(facts(start_days_ago=100, leave=leave), rule("min_duration", months=3))

    assert result.met is met


def test_leave_days_are_counted_inclusively():
    without = fte_months(facts(start_days_ago=100), TODAY)
    with_leave = fte_months(facts(start_days_ago=100, leave=((ago(50), ago(41)),)), TODAY)

    assert round((without - with_leave) * Decimal("30.44"), 9) == 10


def test_leave_after_today_does_not_reduce_the_duration():
    future = ((TODAY + timedelta(days=1), TODAY + timedelta(days=30)),)
    assert fte_months(facts(start_days_ago=100, leave=future), TODAY) == fte_months(facts(start_days_ago=100), TODAY)


@pytest.mark.parametrize(("end_after_start", "met"), [(92, True), (91, False)])
def test_end_date_caps_the_time_counted(end_after_start, met):
    start = ago(400)
    f = Facts(enrollment_id=1, start_date=start, end_date=start + timedelta(days=end_after_start), status="completed")

    result = only(f, rule("min_duration", months=3))

    assert result.met is met
    assert result.forecast is None  # a finished enrollment has no forecast


def test_end_date_in_the_future_does_not_count_time_not_yet_trained():
    f = facts(start_days_ago=30, end_date=TODAY + timedelta(days=300))
    assert only(f, rule("min_duration", months=3)).achieved == 0.9


def test_start_after_today_counts_no_time():
    f = Facts(enrollment_id=1, start_date=TODAY + timedelta(days=10))
    assert only(f, rule("min_duration", months=1)).achieved == 0


def test_duration_forecast_is_the_remaining_time_at_the_fte_fraction():
    # 30 days done; 3 months = 91.32 days: 61.32 days to go, rounded up.
    full = only(facts(start_days_ago=30), rule("min_duration", months=3))
    half = only(facts(start_days_ago=30, fte_fraction=Decimal("0.5")), rule("min_duration", months=3))

    assert full.forecast == TODAY + timedelta(days=62)
    assert half.forecast == TODAY + timedelta(days=math.ceil((Decimal("91.32") - 15) * 2))


@pytest.mark.parametrize(
    ("ruleset_id", "counts"),
    [(LEVEL_1, False), (LEVEL_2, True), (LEVEL_3, True)],
)
def test_carried_forward_months_count_only_on_rules_that_carry_forward(ruleset_id, counts):
    # 61 days = 2.004 months; with 1.0 month of Level I time that is 3.004.
    f = facts(start_days_ago=61, carried_forward_months=Decimal("1.0"))
    without = shipped(facts(start_days_ago=61), ruleset_id, "duration")

    result = shipped(f, ruleset_id, "duration")

    assert result.achieved == (3.0 if counts else without.achieved)


def test_carried_forward_months_reach_level_2_duration_exactly():
    assert shipped(facts(start_days_ago=61, carried_forward_months=Decimal("1.0")), LEVEL_2, "duration").met
    assert not shipped(facts(start_days_ago=60, carried_forward_months=Decimal("1.0")), LEVEL_2, "duration").met


# --- min_cases --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("interpreted", "met"), [(149, False), (150, True), (151, True), (0, False)])
def test_level_2_interpreted_is_met_at_exactly_150(interpreted, met):
    result = shipped(facts(entries=entries(interpreted)), LEVEL_2, "interpreted")

    assert result.required == 150
    assert result.achieved == interpreted
    assert result.met is met
    assert result.remaining == max(150 - interpreted, 0)
    assert len(result.evidence) == interpreted


@pytest.mark.parametrize(("hands_on", "met"), [(49, False), (50, True)])
def test_level_2_hands_on_is_met_at_exactly_50(hands_on, met):
    result = shipped(facts(entries=entries(hands_on, roles=("assisted_console",))), LEVEL_2, "hands_on")

    assert result.met is met
    assert result.remaining == 50 - min(hands_on, 50)


@pytest.mark.parametrize(
    ("ruleset_id", "key", "minimum", "roles"),
    [
        (LEVEL_1, "interpreted", 50, ("interpreted",)),
        (LEVEL_3, "interpreted", 300, ("interpreted",)),
        (LEVEL_3, "hands_on", 100, ("primary_operator",)),
        (CBCMR, "recent_cases", 100, ("interpreted",)),
    ],
)
@pytest.mark.parametrize("below", [0, 1])
def test_shipped_case_minimum_boundaries(ruleset_id, key, minimum, roles, below):
    result = shipped(facts(entries=entries(minimum - below, roles=roles)), ruleset_id, key)

    assert result.required == minimum
    assert result.met is (below == 0)


def test_missing_says_how_many_cases_in_plain_words():
    result = shipped(facts(entries=entries(140)), LEVEL_2, "interpreted")

    assert result.missing == "10 more complete studies interpreted with a mentor's review"


def test_percent_is_capped_at_100():
    assert shipped(facts(entries=entries(400)), LEVEL_2, "interpreted").percent == 100
    assert shipped(facts(entries=entries(75)), LEVEL_2, "interpreted").percent == 50


# Each filter: an entry that matches and one that does not. The rule asks for 3 cases.
FILTERS = {
    "roles_any": (
        {"roles_any": ["assisted_console", "observed_in_room"]},
        {"roles": ("observed_in_room", "protocolled")},
        {"roles": ("interpreted", "protocolled")},
    ),
    "delivery_in": (
        {"delivery_in": ["in_person", "virtual_live_two_way"]},
        {"delivery": "virtual_live_two_way"},
        {"delivery": "asynchronous"},
    ),
    "source_in": ({"source_in": ["live_scan"]}, {"source": "live_scan"}, {"source": "registry"}),
    "categories_any": (
        {"categories_any": ["congenital", "valvular"]},
        {"categories": {"valvular", "flow"}},
        {"categories": {"flow"}},
    ),
    "complete_study": ({"complete_study": True}, {"complete_study": True}, {"complete_study": False}),
    "complete_study_false": ({"complete_study": False}, {"complete_study": False}, {"complete_study": True}),
    "within_months": ({"within_months": 6}, {"days_ago": 10}, {"days_ago": 200}),
}


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize(("matching", "met"), [(3, True), (2, False)])
def test_case_filters_at_the_boundary(name, matching, met):
    params, yes, no = FILTERS[name]
    log = entries(matching, **yes) + entries(10, first_id=100, **no)

    result = only(facts(entries=log), rule("min_cases", minimum=3, **params))

    assert result.met is met
    assert result.achieved == matching
    assert set(result.evidence) == set(range(1, matching + 1))


@pytest.mark.parametrize("name", FILTERS)
def test_case_filters_reject_the_non_matching_entries(name):
    params, _, no = FILTERS[name]
    assert only(facts(entries=entries(5, **no)), rule("min_cases", minimum=1, **params)).achieved == 0


def test_without_filters_every_signed_entry_counts():
    log = entries(2, roles=("protocolled",), delivery="asynchronous", source="teaching_file", complete_study=False)
    assert only(facts(entries=log), rule("min_cases", minimum=2)).met


def test_filters_combine_with_and():
    params = {"roles_any": ["interpreted"], "delivery_in": ["in_person"], "source_in": ["center_archive"]}
    log = (
        entry(1),
        entry(2, delivery="asynchronous"),
        entry(3, source="registry"),
        entry(4, roles=("protocolled",)),
    )
    result = only(facts(entries=log), rule("min_cases", minimum=1, **params))
    assert result.evidence == (1,)


@pytest.mark.parametrize(("inside", "met"), [(100, True), (99, False)])
def test_cbcmr_counts_100_cases_within_24_months(inside, met):
    window_start = months_before(TODAY, 24)  # 2024-11-20
    log = entries(inside, days_ago=(TODAY - window_start).days) + (
        entry(999, days_ago=(TODAY - window_start).days + 1),  # one day outside the window
    )
    result = shipped(facts(entries=log, start_days_ago=1000), CBCMR, "recent_cases")

    assert result.achieved == inside
    assert result.met is met
    assert 999 not in result.evidence


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 11, 20), 24, date(2024, 11, 20)),
        (date(2026, 3, 31), 1, date(2026, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 2, 29)),
        (date(2026, 1, 15), 1, date(2025, 12, 15)),
        (date(2026, 1, 31), 13, date(2024, 12, 31)),
    ],
)
def test_months_before_clamps_to_the_end_of_the_month(day, months, expected):
    assert months_before(day, months) == expected


@pytest.mark.parametrize(
    ("ruleset_id", "key", "counts"),
    [
        (LEVEL_2, "interpreted", True),
        (LEVEL_2, "hands_on", False),
        (LEVEL_3, "interpreted", True),
        (LEVEL_3, "hands_on", False),
        (LEVEL_1, "interpreted", False),
        (CBCMR, "recent_cases", False),
    ],
)
def test_carried_forward_cases_count_only_on_rules_that_carry_forward(ruleset_id, key, counts):
    result = shipped(facts(carried_forward_cases=50), ruleset_id, key)

    assert result.achieved == (50 if counts else 0)
    assert result.detail["carried_forward"] == (50 if counts else 0)
    assert result.evidence == ()  # carried cases are not entries of this log


@pytest.mark.parametrize(("signed", "met"), [(100, True), (99, False)])
def test_level_1_cases_carried_forward_complete_level_2_at_the_boundary(signed, met):
    result = shipped(facts(entries=entries(signed), carried_forward_cases=50), LEVEL_2, "interpreted")
    assert result.met is met


def test_entries_dated_after_today_are_ignored():
    log = entries(3) + entries(5, first_id=10, days_ago=-1)
    report = evaluate(facts(entries=log), get_ruleset(LEVEL_2), today=TODAY)

    assert report.requirement("interpreted").achieved == 3
    assert report.in_person_count == 3
    assert report.pace_per_week == 0.3  # 3 / 8 = 0.375, shown rounded down


def test_entries_dated_today_count():
    assert shipped(facts(entries=entries(1, days_ago=0)), LEVEL_2, "interpreted").achieved == 1


def test_evaluating_earlier_ignores_what_came_later():
    log = entries(5, days_ago=30) + entries(5, first_id=10, days_ago=1)
    assert shipped(facts(entries=log), LEVEL_2, "interpreted", today=ago(10)).achieved == 5


# --- pace and forecasts -----------------------------------------------------------------------------------------


def test_forecast_from_one_case_a_week():
    # 8 cases in the last 8 weeks = 1 a week; 10 to go = 70 days.
    log = tuple(entry(i, days_ago=7 * i - 1) for i in range(1, 9))
    result = only(facts(entries=log), rule("min_cases", minimum=18))

    assert result.remaining == 10
    assert result.forecast == TODAY + timedelta(days=70)


@pytest.mark.parametrize(
    ("recent", "remaining", "days"),
    [(8, 10, 70), (16, 10, 35), (4, 10, 140), (8, 1, 7), (24, 1, 3), (3, 1, 19)],
)
def test_forecast_is_remaining_over_pace_rounded_up(recent, remaining, days):
    log = entries(recent, days_ago=3)
    result = only(facts(entries=log), rule("min_cases", minimum=recent + remaining))

    assert result.forecast == TODAY + timedelta(days=days)


def test_pace_window_is_the_last_56_days():
    inside = entries(8, days_ago=55)
    outside = entries(8, first_id=100, days_ago=56)

    report = evaluate(facts(entries=inside + outside), ruleset(rule("min_cases", minimum=100)), today=TODAY)

    assert report.pace_per_week == 1.0
    assert report.requirements[0].forecast == TODAY + timedelta(days=84 * 7)


def test_no_recent_activity_means_no_forecast():
    result = only(facts(entries=entries(20, days_ago=100)), rule("min_cases", minimum=30))

    assert result.forecast is None and not result.met


def test_met_requirement_has_no_forecast():
    assert only(facts(entries=entries(5)), rule("min_cases", minimum=5)).forecast is None


def test_pace_counts_only_the_entries_the_rule_counts():
    log = entries(8, days_ago=3) + entries(80, first_id=100, days_ago=3, roles=("protocolled",))
    result = only(facts(entries=log), rule("min_cases", minimum=18, roles_any=["interpreted"]))

    assert result.forecast == TODAY + timedelta(days=70)


def test_report_pace_per_week_counts_all_signed_entries_of_the_last_8_weeks():
    log = entries(12, days_ago=3) + entries(5, first_id=50, days_ago=80)
    assert evaluate(facts(entries=log), get_ruleset(LEVEL_2), today=TODAY).pace_per_week == 1.5


DURATION_AND_CASES = (rule("min_duration", "duration", months=3), rule("min_cases", "cases", minimum=150))


def test_overall_forecast_is_the_latest_of_the_open_requirements():
    # Started 30 days ago: the duration is done in 62 days; 140 recent cases at 17.5 a week finish 10 more in 4 days.
    f = facts(start_days_ago=30, entries=entries(140, days_ago=2))
    report = evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY)

    assert report.requirement("cases").forecast == TODAY + timedelta(days=4)
    assert report.requirement("duration").forecast == TODAY + timedelta(days=62)
    assert report.forecast == TODAY + timedelta(days=62)


def test_on_track_has_no_behind_pace_flag():
    f = facts(start_days_ago=30, entries=entries(140, days_ago=2))
    report = evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY)

    assert report.expected_end == ago(30) + timedelta(days=92)
    assert report.forecast <= report.expected_end
    assert "behind_pace" not in report.flag_codes


def test_forecast_after_the_expected_end_is_behind_pace():
    # 8 cases in 8 weeks: 142 to go at 1 a week, long after start + 3 months.
    f = facts(start_days_ago=30, entries=tuple(entry(i, days_ago=7 * i - 3) for i in range(1, 9)))
    report = evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY)

    assert report.forecast == TODAY + timedelta(days=142 * 7)
    assert report.forecast > report.expected_end
    assert "behind_pace" in report.flag_codes
    flag = next(f for f in report.flags if f.code == "behind_pace")
    assert "projected to finish" in flag.message and "expected by" in flag.message


def test_no_recent_activity_is_behind_pace():
    f = facts(start_days_ago=30, entries=entries(10, days_ago=25 + 57))
    report = evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY)

    assert report.forecast is None
    assert "behind_pace" in report.flag_codes
    assert "no progress in the last 8 weeks" in report.flags[0].message


def test_all_met_is_not_behind_pace():
    f = facts(start_days_ago=200, entries=entries(150, days_ago=100))
    report = evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY)

    assert report.all_met and report.forecast is None and not report.flags


@pytest.mark.parametrize("status", ["completed", "withdrawn"])
def test_finished_enrollments_are_never_behind_pace(status):
    f = facts(start_days_ago=30, entries=entries(1, days_ago=100), status=status)
    assert "behind_pace" not in evaluate(f, ruleset(*DURATION_AND_CASES), today=TODAY).flag_codes


def test_topics_alone_missing_do_not_make_a_trainee_behind_pace():
    f = facts(start_days_ago=200, entries=entries(150, days_ago=100))
    rules = ruleset(*DURATION_AND_CASES, rule("category_coverage", "topics", categories="all"))
    report = evaluate(f, rules, today=TODAY)

    assert not report.requirement("topics").met
    assert report.forecast is None and "behind_pace" not in report.flag_codes


@pytest.mark.parametrize(
    ("fields", "days"),
    [
        ({}, 92),  # ceil(3 x 30.44)
        ({"fte_fraction": Decimal("0.5")}, 183),  # ceil(6 x 30.44)
        ({"carried_forward_months": Decimal("1.0")}, 61),  # ceil(2 x 30.44)
        ({"leave": ((ago(170), ago(161)),)}, 102),  # 10 days of leave inside the period
        ({"leave": ((ago(400), ago(390)),)}, 92),  # before the start
        ({"end_date": ago(100)}, 80),  # a known end date wins
    ],
)
def test_expected_end_from_start_months_fte_and_leave(fields, days):
    f = facts(start_days_ago=180, **fields)
    rules = ruleset(rule("min_duration", "duration", months=3, carried_forward=True))

    assert evaluate(f, rules, today=TODAY).expected_end == ago(180) + timedelta(days=days)


def test_no_duration_rule_means_no_expected_end():
    assert evaluate(facts(), get_ruleset(CBCMR), today=TODAY).expected_end is None


# --- reviews waiting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waiting", "message"),
    [(0, None), (1, "1 review waiting > 7 days"), (3, "3 reviews waiting > 7 days")],
)
def test_reviews_waiting_flag(waiting, message):
    f = facts(pending_reviews=5, reviews_waiting_over_7_days=waiting, entries=entries(150))
    report = evaluate(f, get_ruleset(LEVEL_2), today=TODAY)

    flags = {flag.code: flag.message for flag in report.flags}
    assert flags.get("reviews_waiting") == message
    assert report.pending_reviews == 5 and report.reviews_waiting_over_7_days == waiting


# --- category coverage and minima -------------------------------------------------------------------------------

SLUGS = [slug for slug, _ in CURRICULUM]


def test_curriculum_has_the_15_scmr_topics():
    assert len(CURRICULUM) == 15 and len(set(SLUGS)) == 15


@pytest.mark.parametrize(("covered", "met"), [(15, True), (14, False), (0, False)])
def test_coverage_of_all_topics(covered, met):
    log = tuple(entry(i, categories={slug}) for i, slug in enumerate(SLUGS[:covered], start=1))
    result = only(facts(entries=log), rule("category_coverage", categories="all"))

    assert result.required == 15
    assert result.achieved == covered
    assert result.met is met


def test_uncovered_topics_are_named():
    log = tuple(entry(i, categories={slug}) for i, slug in enumerate(SLUGS[:-1], start=1))
    result = only(facts(entries=log), rule("category_coverage", categories="all"))

    assert result.missing == "Curriculum topics not yet covered: Cardiac masses"


def test_coverage_all_uses_the_curriculum_of_the_facts_when_given():
    f = facts(entries=(entry(1, categories={"a"}),), curriculum=(("a", "Topic A"), ("b", "Topic B")))
    result = only(f, rule("category_coverage", categories="all"))

    assert (result.achieved, result.required) == (1, 2)
    assert result.missing.endswith("Topic B")


@pytest.mark.parametrize(("flow", "valvular", "met"), [(2, 2, True), (2, 1, False), (3, 5, True), (1, 1, False)])
def test_coverage_of_a_list_with_a_minimum_per_topic(flow, valvular, met):
    log = entries(flow, categories={"flow"}) + entries(valvular, first_id=100, categories={"valvular"})
    result = only(facts(entries=log), rule("category_coverage", categories=["flow", "valvular"], min_per_category=2))

    assert result.met is met
    assert result.achieved == (flow >= 2) + (valvular >= 2)
    assert result.detail == {"counts": {"flow": flow, "valvular": valvular}, "minimum": 2, "lectures": {}}


def test_one_case_with_two_topics_counts_for_both():
    result = only(
        facts(entries=(entry(1, categories={"flow", "valvular"}),)),
        rule("category_coverage", categories=["flow", "valvular"]),
    )
    assert result.met and result.evidence == (1,)


def test_coverage_evidence_is_the_entries_on_the_listed_topics():
    log = (entry(1, categories={"flow"}), entry(2, categories={"masses"}), entry(3))
    result = only(facts(entries=log), rule("category_coverage", categories=["flow", "valvular"]))

    assert result.evidence == (1,)


def test_category_minimum_evidence_is_the_matching_entries():
    log = entries(3, categories={"congenital"}) + entries(2, first_id=10, categories={"flow"})
    result = only(facts(entries=log), rule("category_minimum", category="congenital", minimum=5))

    assert result.evidence == (1, 2, 3)


@pytest.mark.parametrize(("congenital", "met"), [(5, True), (4, False), (6, True)])
def test_category_minimum_count(congenital, met):
    log = entries(congenital, categories={"congenital"}) + entries(20, first_id=100, categories={"flow"})
    result = only(facts(entries=log), rule("category_minimum", category="congenital", minimum=5))

    assert result.met is met and result.achieved == congenital and result.unit == "cases"
    if not met:
        assert result.missing == "1 more Congenital heart disease cases"


@pytest.mark.parametrize(
    ("matching", "total", "met", "achieved"),
    [(2, 10, True, 20.0), (1, 10, False, 10.0), (1, 5, True, 20.0), (19, 100, False, 19.0), (0, 0, False, 0)],
)
def test_category_minimum_share(matching, total, met, achieved):
    log = entries(matching, categories={"pericardial"}) + entries(total - matching, first_id=1000)
    result = only(facts(entries=log), rule("category_minimum", category="pericardial", min_share_percent=20))

    assert result.unit == "%"
    assert result.met is met and result.achieved == achieved


def test_category_minimum_share_just_under_is_not_met():
    # 199 of 1000 = 19.9%: rounding must not lift it to 20.
    log = entries(199, categories={"pericardial"}) + entries(801, first_id=1000)
    assert not only(facts(entries=log), rule("category_minimum", category="pericardial", min_share_percent=20)).met


# --- didactic hours ---------------------------------------------------------------------------------------------


def session(
    id: int = 1, *, type="didactic_live", minutes=60, days_ago=5, attendees=1, delivery="virtual_two_way", **kw
):
    return SessionFact(
        id=id, type=type, delivery=delivery, date=ago(days_ago), minutes=minutes, mentor_id=1, attendees=attendees, **kw
    )


@pytest.mark.parametrize(
    ("minutes", "met", "hours"),
    [((600,), True, 10), ((300, 300), True, 10), ((599,), False, 9.9), ((45, 45), False, 1.5)],
)
def test_didactic_hours(minutes, met, hours):
    sessions = tuple(
        session(i, minutes=m, type="didactic_recorded" if i % 2 else "didactic_live") for i, m in enumerate(minutes)
    )
    result = only(facts(sessions=sessions), rule("didactic_hours", hours=10))

    assert result.met is met and result.achieved == hours and result.unit == "hours"


def test_didactic_hours_just_under_leave_a_tenth_of_an_hour():
    result = only(facts(sessions=(session(minutes=594),)), rule("didactic_hours", hours=10))

    assert result.achieved == 9.9
    assert result.remaining == 0.1
    assert result.missing == "0.1 more hours of didactics"


@pytest.mark.parametrize("type_", ["case_review", "live_acquisition", "protocol_selection", "planning_troubleshooting"])
def test_interactive_sessions_are_not_didactic_hours(type_):
    assert only(facts(sessions=(session(type=type_, minutes=600),)), rule("didactic_hours", hours=1)).achieved == 0


def test_didactic_sessions_after_today_do_not_count():
    sessions = (session(1, minutes=60), session(2, minutes=600, days_ago=-3))
    result = only(facts(sessions=sessions), rule("didactic_hours", hours=2))

    assert result.achieved == 1 and result.evidence == (1,)


# --- competency sign-offs ---------------------------------------------------------------------------------------


def sign_off(code: str, *, delivery="in_person", days_ago=3, in_person_required=False) -> SignOffFact:
    return SignOffFact(code, delivery, ago(days_ago), in_person_required)


@pytest.mark.parametrize(
    ("signed", "met", "achieved"),
    [(("stress", "devices"), True, 2), (("stress",), False, 1), ((), False, 0), (("stress", "devices", "x"), True, 2)],
)
def test_competency_signoffs(signed, met, achieved):
    f = facts(sign_offs=tuple(sign_off(c) for c in signed))
    result = only(f, rule("competency_signoffs", competencies=["stress", "devices"]))

    assert (result.met, result.achieved, result.required) == (met, achieved, 2)
    if not met:
        assert "devices" in result.missing


def test_sign_off_after_today_does_not_count():
    f = facts(sign_offs=(sign_off("stress", days_ago=-1),))
    assert not only(f, rule("competency_signoffs", competencies=["stress"])).met


@pytest.mark.parametrize(("overlay", "met"), [(True, False), (False, True)])
def test_virtual_sign_off_of_an_in_person_competency_counts_only_without_the_overlay(overlay, met):
    f = facts(sign_offs=(sign_off("stress", delivery="virtual", in_person_required=True),))
    assert only(f, rule("competency_signoffs", competencies=["stress"]), overlay=overlay).met is met


# --- the virtual overlay ----------------------------------------------------------------------------------------


def level_2(f: Facts):
    return evaluate(f, get_ruleset(LEVEL_2), today=TODAY)


LINKED = {"session_type": "case_review", "attended": True}  # a virtual live read from an attended session
# A virtual live acquisition that counts: attended, the console shared, the trainee's input recorded.
LIVE_CONSOLE = {"session_type": "live_acquisition", "console_shared": True, "attended": True, "active_input": True}


def virtual_log(virtual: int, total: int) -> tuple[EntryFact, ...]:
    """`virtual` interpretations from attended virtual sessions, the rest in person."""
    return entries(virtual, delivery="virtual_live_two_way", **LINKED) + entries(total - virtual, first_id=10_000)


@pytest.mark.parametrize(
    ("virtual", "total", "cap", "over"),
    [
        (5, 10, 50, False),  # exactly at the cap
        (6, 10, 50, True),  # one entry over
        (0, 10, 50, False),
        (10, 10, 100, False),
        (4, 10, 40, False),
        (5, 10, 40, True),
        (500, 1000, 50, False),
        (501, 1000, 50, True),
        (1, 3, 33, True),  # 33.3% > 33%
    ],
)
def test_virtual_share_over_the_program_maximum_is_flagged(virtual, total, cap, over):
    report = level_2(facts(entries=virtual_log(virtual, total), program=ProgramFacts(max_virtual_share=cap)))

    assert ("over_virtual_cap" in report.flag_codes) is over
    assert report.virtual_cap == cap
    assert report.virtual_count == virtual and report.in_person_count == total - virtual
    # Tracked and flagged, never a requirement: more virtual evidence cannot fail a trainee.
    assert report.requirement("virtual_share") is None


def test_virtual_share_just_over_the_cap_is_over_even_if_it_rounds_down_to_the_cap():
    # 501 of 1001 = 50.05%: over a 50% maximum, although it displays as 50.0 with one decimal rounded down.
    report = level_2(facts(entries=virtual_log(501, 1001)))

    assert report.virtual_share == 50.0
    assert "over_virtual_cap" in report.flag_codes


@pytest.mark.parametrize(
    ("trainee_cap", "virtual", "over", "cap"),
    [
        (40, 4, False, 40),  # the mentor lowered the share for this trainee: at it
        (40, 5, True, 40),  # one over the trainee's cap, within the program's
        (60, 5, False, 50),  # a trainee value above the program's changes nothing
        (60, 6, True, 50),
        (None, 5, False, 50),
    ],
)
def test_the_trainees_lower_virtual_share_lowers_the_flag_threshold(trainee_cap, virtual, over, cap):
    report = level_2(facts(entries=virtual_log(virtual, 10), trainee_max_virtual_share=trainee_cap))

    assert report.virtual_cap == cap
    assert ("over_virtual_cap" in report.flag_codes) is over


def test_over_the_virtual_share_never_fails_a_requirement():
    """150 in-person interpretations meet the minimum; 300 more virtual ones raise the flag and fail nothing."""
    honest = facts(entries=entries(150))
    plus_virtual = facts(entries=entries(150) + entries(300, first_id=1000, delivery="virtual_live_two_way", **LINKED))

    before, after = level_2(honest), level_2(plus_virtual)

    assert "over_virtual_cap" in after.flag_codes
    assert [(r.key, r.met) for r in after.requirements] == [(r.key, r.met) for r in before.requirements]
    assert all(a.achieved >= b.achieved for a, b in zip(after.requirements, before.requirements, strict=True))
    # The interpretations beyond the 50% allowance (75 of 150) are reported, not counted.
    assert after.requirement("interpreted").detail["virtual_counted"] == 75


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_3])
def test_without_the_overlay_the_virtual_share_is_reported_but_has_no_cap(ruleset_id):
    report = evaluate(facts(entries=virtual_log(10, 10)), get_ruleset(ruleset_id), today=TODAY)

    assert report.virtual_share == 100.0 and report.virtual_cap is None
    assert "over_virtual_cap" not in report.flag_codes

    opted_in = evaluate(facts(entries=virtual_log(10, 10)), get_ruleset(ruleset_id).with_overlay(), today=TODAY)
    assert opted_in.virtual_cap == 50 and "over_virtual_cap" in opted_in.flag_codes


def test_asynchronous_cases_count_as_virtual():
    log = entries(6, delivery="asynchronous") + entries(4, first_id=100)
    assert level_2(facts(entries=log)).virtual_share == 60.0


def test_no_entries_is_within_the_cap():
    report = level_2(facts())
    assert report.virtual_share is None and "over_virtual_cap" not in report.flag_codes


def test_over_the_cap_flag_says_by_how_much():
    report = level_2(facts(entries=virtual_log(6, 10)))
    flag = next(f for f in report.flags if f.code == "over_virtual_cap")
    assert flag.message == "Virtual share 60% is over the 50% maximum: virtual cases beyond it do not count"


HANDS_ON = ("assisted_console",)
NO_INPUT = {"session_type": "live_acquisition", "console_shared": True, "attended": True}


@pytest.mark.parametrize(
    ("fields", "counts"),
    [
        ({"delivery": "in_person"}, True),  # in-person hands-on always counts
        ({"delivery": "in_person", "session_type": "case_review"}, True),
        (
            {
                "delivery": "virtual_live_two_way",
                "session_type": "live_acquisition",
                "console_shared": True,
                "attended": True,
                "active_input": True,
            },
            True,
        ),
        # console shared, attended, but no input recorded / not attended
        (
            {
                "delivery": "virtual_live_two_way",
                "session_type": "live_acquisition",
                "console_shared": True,
                "attended": True,
            },
            False,
        ),
        ({"delivery": "virtual_live_two_way", "session_type": "live_acquisition", "console_shared": True}, False),
        ({"delivery": "virtual_live_two_way"}, False),  # virtual, no session
        ({"delivery": "virtual_live_two_way", "session_type": "live_acquisition", "console_shared": False}, False),
        ({"delivery": "virtual_live_two_way", "session_type": "case_review", "console_shared": True}, False),
        ({"delivery": "asynchronous"}, False),
    ],
)
@pytest.mark.parametrize("roles", [HANDS_ON, ("primary_operator",), ("assisted_console", "interpreted")])
def test_virtual_acquisition_counts_only_from_a_live_session_with_the_console_shared(fields, counts, roles):
    result = level_2(facts(entries=(entry(1, roles=roles, **fields),))).requirement("hands_on")

    assert result.achieved == (1 if counts else 0)
    assert result.detail["virtual_without_console"] == (0 if counts else 1)


def test_virtual_hands_on_without_console_still_counts_as_an_interpretation():
    """From an attended case review (no console): the read counts, the acquisition does not."""
    log = (
        entry(
            1,
            roles=("assisted_console", "interpreted"),
            delivery="virtual_live_two_way",
            session_type="case_review",
            attended=True,
        ),
    )
    report = level_2(facts(entries=log))

    assert report.requirement("hands_on").achieved == 0
    assert report.requirement("interpreted").achieved == 1


@pytest.mark.parametrize(
    ("fields", "counts"),
    [
        ({}, False),  # no session
        ({"session_type": "case_review"}, False),  # a session, but no attendance recorded
        ({"session_type": "case_review", "attended": True}, True),
    ],
)
def test_a_virtual_live_entry_counts_only_from_an_attended_session(fields, counts):
    log = (entry(1, roles=("interpreted",), delivery="virtual_live_two_way", **fields),)
    result = level_2(facts(entries=log)).requirement("interpreted")

    assert result.achieved == (1 if counts else 0)
    reasons = {n["reason"]: n["count"] for n in result.detail["not_counted"]}
    assert reasons == ({} if counts else {NOT_LINKED: 1})


def test_asynchronous_interpretation_needs_no_session():
    """Reading archived cases on one's own time, reviewed by the mentor, is not virtual *live* experience."""
    log = (entry(1, roles=("interpreted",), delivery="asynchronous"),)

    assert level_2(facts(entries=log)).requirement("interpreted").achieved == 1


def test_virtual_without_console_detail_counts_the_log():
    log = (
        entries(3, roles=HANDS_ON, delivery="virtual_live_two_way")
        + entries(2, first_id=10, roles=HANDS_ON, delivery="in_person")
        + entries(
            4,
            first_id=20,
            roles=HANDS_ON,
            delivery="virtual_live_two_way",
            session_type="live_acquisition",
            console_shared=True,
            attended=True,
            active_input=True,
        )
        + entries(  # attended, console shared, but no input of the trainee recorded
            2, first_id=40, roles=HANDS_ON, delivery="virtual_live_two_way", **NO_INPUT
        )
        + entries(5, first_id=30, delivery="virtual_live_two_way")  # interpretations only: not acquisition
    )
    result = level_2(facts(entries=log)).requirement("hands_on")

    assert result.achieved == 6
    assert result.detail == {
        "carried_forward": 0,
        "in_person": 2,
        "virtual": 4,
        "virtual_counted": 4,
        "virtual_cap": 50,
        "min_in_person": 25,
        "virtual_without_console": 5,
        "not_counted": [{"count": 3, "reason": NOT_LINKED}, {"count": 2, "reason": NO_CONSOLE}],
    }


def test_without_the_overlay_virtual_hands_on_counts_and_has_no_detail():
    rules = ruleset(rule("min_cases", "hands_on", minimum=1, roles_any=["assisted_console"]))
    log = (entry(1, roles=HANDS_ON, delivery="virtual_live_two_way"),)
    result = evaluate(facts(entries=log), rules, today=TODAY).requirements[0]

    assert result.met and "virtual_without_console" not in result.detail


def test_interpretation_rules_have_no_console_detail():
    assert "virtual_without_console" not in level_2(facts()).requirement("interpreted").detail


FRAMEWORK = (("stress", "Stress testing"), ("devices", "Patients with cardiac devices"))


@pytest.mark.parametrize(
    ("sign_offs", "prior", "met", "achieved"),
    [
        ((sign_off("stress"), sign_off("devices")), (), True, 2),
        ((sign_off("stress"),), (), False, 1),
        ((sign_off("stress"), sign_off("devices", delivery="virtual")), (), False, 1),  # virtual never satisfies
        ((sign_off("stress"),), ("devices",), True, 2),  # the mentor recorded prior experience of devices
        ((), ("stress", "devices"), True, 2),
        ((sign_off("reporting"),), (), False, 0),  # sign-offs outside the framework do not count
    ],
)
def test_the_frameworks_in_person_competencies_must_be_signed_in_person_or_covered(sign_offs, prior, met, achieved):
    f = facts(sign_offs=sign_offs, in_person_competencies=FRAMEWORK, prior_experience=frozenset(prior))
    report = level_2(f)
    result = report.requirement("in_person_competencies")

    assert (result.met, result.achieved, result.required) == (met, achieved, 2)
    assert result.overlay and result.source == "scmr-2021-virtual"
    assert ("missing_in_person" in report.flag_codes) is (not met)


def test_missing_in_person_names_the_competencies_and_which_were_signed_only_virtually():
    f = facts(sign_offs=(sign_off("devices", delivery="virtual"),), in_person_competencies=FRAMEWORK)
    report = level_2(f)

    missing = "Sign in person: Stress testing, Patients with cardiac devices (signed only virtually)"
    assert report.requirement("in_person_competencies").missing == missing
    assert next(flag.message for flag in report.flags if flag.code == "missing_in_person") == missing


def test_an_in_person_sign_off_after_a_virtual_one_satisfies_the_competency():
    sign_offs = (sign_off("stress", delivery="virtual", days_ago=30), sign_off("stress", days_ago=3))
    f = facts(sign_offs=sign_offs, in_person_competencies=FRAMEWORK[:1])

    assert level_2(f).requirement("in_person_competencies").met


def test_without_a_framework_there_is_no_in_person_requirement():
    # A sign-off marked in-person-required does not create the requirement: the framework does.
    report = level_2(facts(sign_offs=(sign_off("stress", delivery="virtual", in_person_required=True),)))
    assert report.requirement("in_person_competencies") is None and "missing_in_person" not in report.flag_codes


def test_an_in_person_sign_off_after_today_does_not_count():
    f = facts(sign_offs=(sign_off("stress", days_ago=-5),), in_person_competencies=FRAMEWORK[:1])
    assert not level_2(f).requirement("in_person_competencies").met


def test_a_virtual_sign_off_after_today_is_not_mentioned_as_of_today():
    f = facts(sign_offs=(sign_off("stress", delivery="virtual", days_ago=-5),), in_person_competencies=FRAMEWORK[:1])
    assert level_2(f).requirement("in_person_competencies").missing == "Sign in person: Stress testing"


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_3])
def test_the_framework_is_not_required_without_the_overlay(ruleset_id):
    f = facts(in_person_competencies=FRAMEWORK)
    report = evaluate(f, get_ruleset(ruleset_id), today=TODAY)

    assert report.requirement("in_person_competencies") is None and "missing_in_person" not in report.flag_codes
    opted_in = evaluate(f, get_ruleset(ruleset_id).with_overlay(), today=TODAY)
    assert not opted_in.requirement("in_person_competencies").met and "missing_in_person" in opted_in.flag_codes


@pytest.mark.parametrize(
    ("type_", "attendees", "met"),
    [
        ("case_review", 4, True),  # at the cap
        ("case_review", 5, False),  # one over
        ("live_acquisition", 5, False),
        ("protocol_selection", 9, False),
        ("planning_troubleshooting", 1, True),
        ("didactic_live", 40, True),  # didactics are not capped
        ("didactic_recorded", 200, True),
    ],
)
def test_interactive_sessions_within_the_group_cap(type_, attendees, met):
    report = level_2(facts(sessions=(session(3, type=type_, attendees=attendees),)))
    result = report.requirement("group_cap")

    assert result.met is met and result.at_most
    assert result.evidence == (() if met else (3,))
    assert ("group_cap" in report.flag_codes) is (not met)


def test_group_cap_comes_from_the_program():
    sessions = (session(1, type="case_review", attendees=3),)
    report = level_2(facts(sessions=sessions, program=ProgramFacts(interactive_group_cap=2)))

    assert not report.requirement("group_cap").met
    assert report.requirement("group_cap").label == "Interactive sessions within 2 trainees per mentor"


def test_non_scmr_ruleset_has_no_overlay():
    f = facts(
        entries=entries(100, delivery="asynchronous", roles=HANDS_ON + ("interpreted",), signer_level=None),
        sessions=(session(type="case_review", attendees=30),),
        sign_offs=(sign_off("stress", delivery="virtual", in_person_required=True),),
        in_person_competencies=FRAMEWORK,
    )
    report = evaluate(f, get_ruleset(CBCMR), today=TODAY)

    assert [r.key for r in report.requirements] == ["recent_cases"]
    assert not any(r.overlay for r in report.requirements)
    assert report.flag_codes == set()
    assert report.virtual_share == 100.0  # still reported, just not a requirement
    assert report.requirement("recent_cases").met  # any role, any signer: the CBCMR sets no mentor level
    assert (report.overlay, report.virtual_cap, report.mentor_min_level) == (False, None, None)


@pytest.mark.parametrize(("ruleset_id", "overlay"), [(LEVEL_1, False), (LEVEL_2, True), (LEVEL_3, False)])
def test_only_level_2_has_the_overlay(ruleset_id, overlay):
    """The SCMR 2021 statement is about Level II training."""
    report = evaluate(facts(in_person_competencies=FRAMEWORK), get_ruleset(ruleset_id), today=TODAY)
    overlay_rows = {r.key for r in report.requirements if r.overlay}

    assert report.overlay is overlay
    assert overlay_rows == ({"in_person_competencies", "group_cap"} if overlay else set())
    assert "virtual_share" not in {r.key for r in report.requirements}
    assert report.overlay_note == overlay_note(get_ruleset(ruleset_id))
    assert ("rules apply" if overlay else "rules do not apply") in report.overlay_note


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_3])
def test_with_overlay_applies_it_to_level_1_and_3(ruleset_id):
    base = get_ruleset(ruleset_id)
    opted_in = base.with_overlay()
    report = evaluate(facts(in_person_competencies=FRAMEWORK), opted_in, today=TODAY)

    assert opted_in.virtual_overlay and opted_in.overlay_opted_in
    assert not base.virtual_overlay  # the cached shipped ruleset is untouched
    assert {r.key for r in report.requirements if r.overlay} == {"in_person_competencies", "group_cap"}
    assert report.overlay and "the program opted in" in report.overlay_note
    assert f"Level {base.target_level}" in report.overlay_note


def test_with_overlay_leaves_level_2_as_it_is():
    level_2_rules = get_ruleset(LEVEL_2)
    assert level_2_rules.with_overlay() is level_2_rules and not level_2_rules.overlay_opted_in


# --- the virtual share per requirement ---------------------------------------------------------------------------


def mixed(in_person: int, virtual: int, **fields) -> tuple[EntryFact, ...]:
    """In-person and (asynchronous, so never unlinked) virtual interpretations."""
    return entries(in_person, **fields) + entries(virtual, first_id=10_000, delivery="asynchronous", **fields)


@pytest.mark.parametrize(
    ("in_person", "virtual", "achieved", "met"),
    [
        (7, 3, 10, True),  # 3 of 10 virtual: exactly the 30% allowance
        (6, 4, 9, False),  # one virtual over it
        (10, 0, 10, True),
        (0, 10, 3, False),
        (7, 30, 10, True),  # extra virtual entries never lower the result
    ],
)
def test_virtual_entries_count_up_to_the_rules_share_of_the_minimum(in_person, virtual, achieved, met):
    result = only(facts(entries=mixed(in_person, virtual)), rule("min_cases", minimum=10, max_virtual_share=30))

    assert (result.achieved, result.met) == (achieved, met)
    counted = min(virtual, 3)
    assert result.detail | {"not_counted": None} == {
        "carried_forward": 0,
        "in_person": in_person,
        "virtual": virtual,
        "virtual_counted": counted,
        "virtual_cap": 30,
        "min_in_person": 0,
        "not_counted": None,
    }
    over = [n for n in result.detail["not_counted"] if n["reason"].startswith(OVER_VIRTUAL_SHARE)]
    assert over == (
        [] if virtual <= 3 else [{"count": virtual - 3, "reason": f"{OVER_VIRTUAL_SHARE} (30%: at most 3 of 10)"}]
    )


@pytest.mark.parametrize(
    ("in_person", "virtual", "met", "missing"),
    [
        (5, 5, True, ""),
        (4, 6, False, "1 more in person (at least 5 in person)"),  # 10 counted, but too few in person
        (5, 4, False, "1 more rule r"),
        (3, 4, False, "3 more rule r; 2 more in person (at least 5 in person)"),
    ],
)
def test_a_rules_in_person_minimum(in_person, virtual, met, missing):
    result = only(facts(entries=mixed(in_person, virtual)), rule("min_cases", minimum=10, min_in_person=5))

    assert result.met is met and result.missing == missing
    assert result.detail["min_in_person"] == 5 and result.detail["in_person"] == in_person


def test_without_a_cap_every_virtual_entry_counts():
    result = only(facts(entries=mixed(0, 10)), rule("min_cases", minimum=10))

    assert result.met and result.detail["virtual_cap"] is None and result.detail["not_counted"] == []


def test_carried_forward_cases_count_besides_the_virtual_allowance():
    f = facts(entries=mixed(2, 10), carried_forward_cases=5)
    result = only(f, rule("min_cases", minimum=10, max_virtual_share=30, carried_forward=True))

    assert result.achieved == 5 + 2 + 3 and result.met


def test_no_forecast_when_the_recent_entries_cannot_close_the_gap():
    # 60 virtual scans last week: 25 of them count, the 25 in-person scans are missing and none are being done.
    log = entries(60, roles=("primary_operator",), delivery="virtual_live_two_way", **LIVE_CONSOLE)
    result = level_2(facts(entries=log)).requirement("hands_on")

    assert not result.met and result.detail["in_person"] == 0 and result.detail["virtual_counted"] == 25
    assert result.forecast is None


@pytest.mark.parametrize(
    ("overlay", "rule_cap", "program_cap", "trainee_cap", "expected"),
    [
        (False, None, 50, None, None),  # no overlay, no rule cap: no cap
        (False, 30, 50, 10, 30),  # without the overlay only the rule's own cap applies
        (True, None, 50, None, 50),  # the program's cap
        (True, 30, 50, None, 30),  # the rule's lower cap wins
        (True, 60, 50, None, 50),  # the program's lower cap wins
        (True, None, 50, 20, 20),  # the mentor lowered it for the trainee
        (True, None, 50, 80, 50),  # a trainee value above the program's has no effect
        (True, 10, 50, 20, 10),
    ],
)
def test_virtual_cap_is_the_lowest_that_applies(overlay, rule_cap, program_cap, trainee_cap, expected):
    params = {} if rule_cap is None else {"max_virtual_share": rule_cap}
    rules = ruleset(rule("min_cases", minimum=10, **params), overlay=overlay)
    f = facts(program=ProgramFacts(max_virtual_share=program_cap), trainee_max_virtual_share=trainee_cap)

    assert virtual_cap(f, rules, rules.rules[0]) == expected
    assert evaluate(f, rules, today=TODAY).requirements[0].detail["virtual_cap"] == expected


# --- the signing mentor's level ----------------------------------------------------------------------------------

MENTOR_II = {"min_level": "II", "source": "paper", "confidence": "Low."}


def mentored(*requirements: dict, mentor=MENTOR_II, overlay: bool = False):
    return ruleset(*requirements, overlay=overlay, mentor=mentor, citations={"paper": "A paper."})


@pytest.mark.parametrize(
    ("signer", "counts"),
    [("I", False), ("II", True), ("III", True), ("AP", True), ("EQ", True), (None, False)],
)
def test_an_entry_counts_only_when_signed_by_a_mentor_of_at_least_the_minimum_level(signer, counts):
    rules = mentored(rule("min_cases", minimum=1, roles_any=["interpreted"]))
    report = evaluate(facts(entries=(entry(1, signer_level=signer),)), rules, today=TODAY)
    result = report.requirements[0]

    assert result.achieved == (1 if counts else 0)
    assert result.detail["not_counted"] == ([] if counts else [{"count": 1, "reason": LOW_MENTOR}])
    assert report.mentor_min_level == "II"


def test_a_low_mentor_entry_counts_for_no_rule_not_even_one_without_roles():
    rules = mentored(rule("min_cases", "a", minimum=1), rule("min_cases", "b", minimum=1, roles_any=["interpreted"]))
    report = evaluate(facts(entries=(entry(1, signer_level="I"),)), rules, today=TODAY)

    assert [r.achieved for r in report.requirements] == [0, 0]
    assert all(r.detail["not_counted"] == [{"count": 1, "reason": LOW_MENTOR}] for r in report.requirements)


def test_without_a_mentor_minimum_any_signer_counts():
    report = evaluate(facts(entries=(entry(1, signer_level=None),)), ruleset(rule("min_cases", minimum=1)), today=TODAY)

    assert report.requirements[0].met and report.mentor_min_level is None


def test_cumulative_points_leave_out_low_mentor_entries():
    rules = mentored(rule("min_cases", "r", minimum=5))
    f = facts(entries=entries(2, days_ago=3) + entries(3, first_id=10, days_ago=2, signer_level="I"))

    assert cumulative_points(f, rules, "r", today=TODAY) == [(ago(3), 2)]


# --- lectures covering curriculum topics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lectures", "covered", "by_lecture"),
    [
        ((LectureFact(1, ago(3), 1.0, "safety"),), {"safety"}, {"safety": [1]}),
        ((LectureFact(1, ago(-3), 1.0, "safety"),), set(), {}),  # completed after today
        ((LectureFact(1, ago(3), 1.0, "flow"),), set(), {}),  # flow is not a lecture topic of this rule
        ((LectureFact(1, ago(3), 1.0, ""),), set(), {}),  # a lecture without a topic
    ],
)
def test_a_completed_lecture_covers_only_the_rules_lecture_topics(lectures, covered, by_lecture):
    r = rule("category_coverage", categories=["safety", "flow"], lecture_topics=["safety"])
    result = only(facts(lectures=lectures), r)

    assert result.achieved == len(covered)
    assert result.detail["lectures"] == by_lecture
    assert result.evidence == ()  # lectures are not entries of the log


def test_without_lecture_topics_a_lecture_covers_nothing():
    result = only(
        facts(lectures=(LectureFact(1, ago(3), 1.0, "safety"),)), rule("category_coverage", categories=["safety"])
    )
    assert not result.met and result.detail["lectures"] == {}


# --- one log, several rulebooks ---------------------------------------------------------------------------------


def test_one_log_evaluated_against_every_shipped_ruleset():
    # Four months in, 120 interpreted cases (60 of them hands-on), all topics covered.
    log = tuple(
        entry(
            i,
            days_ago=i % 120,
            roles=("interpreted", "assisted_console") if i % 2 else ("interpreted",),
            categories={SLUGS[i % 15]},
        )
        for i in range(120)
    )
    f = facts(entries=log, start_days_ago=122)

    reports = {r.id: evaluate(f, r, today=TODAY) for r in list_rulesets()}
    met = {rid: {r.key for r in report.requirements if r.met and not r.overlay} for rid, report in reports.items()}

    assert met == {
        LEVEL_1: {"duration", "interpreted", "curriculum"},
        LEVEL_2: {"duration", "hands_on", "curriculum"},
        LEVEL_3: {"curriculum"},
        CBCMR: {"recent_cases"},
    }
    assert reports[LEVEL_1].all_met and not reports[LEVEL_2].all_met
    assert {report.ruleset for report in reports.values()} == {
        "scmr-2018-level-1 v2",
        "scmr-2018-level-2 v3",
        "scmr-2018-level-3 v3",
        "cbcmr-exam-eligibility v1",
    }
    assert {rid for rid, report in reports.items() if report.overlay} == {LEVEL_2}


def test_one_log_counts_by_each_rulesets_mentor_level():
    # 100 interpretations signed by a Level II mentor: enough for Level I and the CBCMR, nothing for Level III.
    f = facts(entries=entries(100, signer_level="II"))
    key = {LEVEL_1: "interpreted", LEVEL_2: "interpreted", LEVEL_3: "interpreted", CBCMR: "recent_cases"}
    achieved = {r.id: evaluate(f, r, today=TODAY).requirement(key[r.id]).achieved for r in list_rulesets()}

    assert achieved == {LEVEL_1: 100, LEVEL_2: 100, LEVEL_3: 0, CBCMR: 100}


# --- the report -------------------------------------------------------------------------------------------------


def rich_facts() -> Facts:
    return facts(
        start_days_ago=40,
        entries=entries(30, days_ago=5, categories={"flow", "valvular"})
        + entries(40, first_id=100, days_ago=9, delivery="virtual_live_two_way", roles=HANDS_ON),
        leave=((ago(20), ago(18)),),
        carried_forward_cases=12,
        pending_reviews=3,
        reviews_waiting_over_7_days=1,
        sessions=(session(1, type="case_review", attendees=6), session(2, minutes=90)),
        sign_offs=(sign_off("stress", delivery="virtual", in_person_required=True),),
        in_person_competencies=(("stress", "Stress testing"),),
    )


def test_report_as_dict_is_json_serialisable_and_stable():
    report = level_2(rich_facts())
    first = json.dumps(report.as_dict(), sort_keys=True)

    assert first == json.dumps(level_2(rich_facts()).as_dict(), sort_keys=True)
    data = json.loads(first)
    assert list(report.as_dict()) == [
        "enrollment", "ruleset", "ruleset_title", "as_of", "all_met", "met_count", "requirements", "missing",
        "flags", "pace_per_week", "virtual_count", "in_person_count", "virtual_share", "pending_reviews",
        "reviews_waiting_over_7_days", "expected_end", "forecast", "weekly", "overlay", "overlay_note",
        "virtual_cap", "mentor_min_level",
    ]  # fmt: skip
    assert data["as_of"] == "2026-11-20"
    assert data["enrollment"] == 7
    assert (data["overlay"], data["virtual_cap"], data["mentor_min_level"]) == (True, 50, "II")
    assert data["overlay_note"] == overlay_note(get_ruleset(LEVEL_2))
    assert {f["code"] for f in data["flags"]} == {
        "behind_pace",
        "over_virtual_cap",
        "reviews_waiting",
        "missing_in_person",
        "group_cap",
    }
    interpreted = next(r for r in data["requirements"] if r["key"] == "interpreted")
    assert interpreted["achieved"] == 42 and interpreted["remaining"] == 108 and interpreted["percent"] == 28
    assert interpreted["evidence"] == list(range(1, 31))
    assert interpreted["source"] == "scmr-2021-virtual"
    assert interpreted["citation"].startswith("Patel AR")
    assert interpreted["cites"].startswith('"The virtual training program should include full interpretation')
    assert interpreted["forecast"] == (TODAY + timedelta(days=math.ceil(108 / 3.75 * 7))).isoformat()
    assert set(interpreted) >= {
        "key",
        "label",
        "required",
        "achieved",
        "remaining",
        "met",
        "evidence",
        "forecast",
        "cites",
        "confidence",
        "missing",
        "detail",
    }


def test_missing_lists_only_unmet_requirements_in_order():
    report = level_2(facts(start_days_ago=200, entries=entries(150, categories=set(SLUGS))))

    assert report.missing == [
        "50 more cases performed (primary operator or assisting at the console); "
        "25 more in person (at least 25 in person)"
    ]
    assert report.met_count == len(report.requirements) - 1


def test_evaluate_is_pure_same_inputs_give_equal_reports():
    f, rules = rich_facts(), get_ruleset(LEVEL_2)
    assert evaluate(f, rules, today=TODAY) == evaluate(f, rules, today=TODAY)
    assert evaluate(f, rules, today=TODAY) != evaluate(f, rules, today=TODAY + timedelta(days=1))


@pytest.mark.django_db
def test_evaluate_makes_no_database_queries(django_assert_num_queries):
    f = rich_facts()
    with django_assert_num_queries(0):
        for r in list_rulesets():
            evaluate(f, r, today=TODAY)
        cumulative_points(f, get_ruleset(LEVEL_2), "interpreted", today=TODAY)
        tally_entries(f, get_ruleset(LEVEL_2), today=TODAY)


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_2, LEVEL_3, CBCMR])
def test_every_result_carries_its_source_citation_and_confidence(ruleset_id):
    rules = get_ruleset(ruleset_id)
    f = facts(sign_offs=(sign_off("stress"),), in_person_competencies=FRAMEWORK)
    for result in evaluate(f, rules, today=TODAY).requirements:
        assert result.source in rules.citations, result.key
        assert result.citation == rules.citations[result.source], result.key
        assert result.cites and result.confidence, result.key


def test_the_overlay_is_never_applied_to_another_bodys_rulebook():
    """The virtual overlay is SCMR's: a program opting in leaves the CBCMR rule as it is."""
    ruleset = get_ruleset(CBCMR)

    assert ruleset.with_overlay() is ruleset
    assert not evaluate(facts(in_person_competencies=FRAMEWORK), ruleset.with_overlay(), today=TODAY).overlay


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_3])
def test_overlay_rows_cite_scmr_2021_when_the_program_opts_in(ruleset_id):
    f = facts(in_person_competencies=FRAMEWORK)
    overlay_rows = [
        r for r in evaluate(f, get_ruleset(ruleset_id).with_overlay(), today=TODAY).requirements if r.overlay
    ]

    assert {r.key for r in overlay_rows} == {"in_person_competencies", "group_cap"}
    for result in overlay_rows:
        assert result.source == "scmr-2021-virtual" and result.citation == VIRTUAL_CITATION, result.key
        assert result.cites and result.confidence, result.key


# --- chart series -----------------------------------------------------------------------------------------------


def test_cumulative_points_start_with_carried_cases_and_step_per_day():
    f = facts(
        start_days_ago=100,
        carried_forward_cases=50,
        entries=entries(2, days_ago=10) + entries(3, first_id=10, days_ago=5) + entries(1, first_id=20, days_ago=-2),
    )
    assert cumulative_points(f, get_ruleset(LEVEL_2), "interpreted", today=TODAY) == [
        (ago(100), 50),
        (ago(10), 52),
        (ago(5), 55),
    ]


def test_cumulative_points_follow_the_rule_filters():
    f = facts(
        entries=entries(2, days_ago=3, roles=HANDS_ON, delivery="virtual_live_two_way")
        + entries(1, first_id=9, days_ago=2, roles=HANDS_ON)
    )
    assert cumulative_points(f, get_ruleset(LEVEL_2), "hands_on", today=TODAY) == [(ago(2), 1)]


def test_cumulative_points_end_at_what_the_requirement_counts():
    f = facts(entries=entries(150, delivery="asynchronous"))  # all virtual: 75 of 150 may count under a 50% cap
    result = level_2(f).requirement("interpreted")

    assert result.achieved == 75
    assert cumulative_points(f, get_ruleset(LEVEL_2), "interpreted", today=TODAY)[-1][1] == result.achieved


def test_weekly_counts_oldest_first():
    f = facts(
        entries=entries(2, days_ago=0)
        + entries(3, first_id=10, days_ago=7)
        + entries(1, first_id=20, days_ago=84)
        + entries(4, first_id=30, days_ago=-1)
    )
    weekly = level_2(f).weekly

    assert len(weekly) == 12 and weekly[-1] == 2 and weekly[-2] == 3 and sum(weekly) == 5


# --- tallies: the same report from counts instead of entries (what the director's table uses) -------------------


@pytest.mark.parametrize("ruleset_id", [LEVEL_1, LEVEL_2, LEVEL_3, CBCMR])
def test_a_report_from_tallies_equals_the_report_from_entries_without_evidence(ruleset_id):
    rules = get_ruleset(ruleset_id)
    f = rich_facts()
    tallied = dataclasses.replace(f, entries=(), tallies=tally_entries(f, rules, today=TODAY))

    from_entries = evaluate(f, rules, today=TODAY)
    from_tallies = evaluate(tallied, rules, today=TODAY)

    assert [r.achieved for r in from_tallies.requirements] == [r.achieved for r in from_entries.requirements]
    assert [r.forecast for r in from_tallies.requirements] == [r.forecast for r in from_entries.requirements]
    assert (from_tallies.flags, from_tallies.forecast, from_tallies.pace_per_week, from_tallies.weekly) == (
        from_entries.flags,
        from_entries.forecast,
        from_entries.pace_per_week,
        from_entries.weekly,
    )
    assert (from_tallies.virtual_count, from_tallies.in_person_count) == (40, 30)


def test_tallies_count_each_rule_and_what_the_overlay_needs():
    f = facts(
        entries=entries(3, days_ago=100, categories={"flow"})
        + entries(2, first_id=10, days_ago=5, roles=HANDS_ON, delivery="virtual_live_two_way")
        + entries(1, first_id=20, days_ago=-2)
        + (entry(30, roles=HANDS_ON), entry(31, signer_level="I"))
        + entries(2, first_id=40, delivery="asynchronous", complete_study=False)
    )
    t = tally_entries(f, get_ruleset(LEVEL_2), today=TODAY)

    assert t.rule_counts == {"interpreted": 3, "hands_on": 1}
    assert t.rule_in_person == {"interpreted": 3, "hands_on": 1}
    assert t.rule_recent == {"interpreted": 0, "hands_on": 1}
    assert t.excluded == {"interpreted": {LOW_MENTOR: 1}, "hands_on": {NOT_LINKED: 2}}
    assert t.incomplete == {"interpreted": 2}
    assert (t.total, t.virtual, t.virtual_without_console, t.recent) == (9, 4, 2, 6)
    assert t.categories == {"flow": 3}
    assert t.evidence["interpreted"] == (1, 2, 3)
