"""Hands-on means performed: only operating the scanner — as the primary operator or assisting at the console —
counts toward the "performed" requirement of the Level II and III rulesets. Watching, in the room or remotely, is
reported as not counted, with its reason (SCMR 2021: virtual training substitutes only "a portion" of the in-person
hands-on experience; SCMR 2018 asks for cases performed)."""

import pytest
from rest_framework.test import APIClient

from tests.factories import EntryFactory
from trainingportal.engine import get_ruleset

from .test_engine import LEVEL_2, LEVEL_3, TODAY, entries, evaluate, facts, shipped

CONSOLE = {"session_type": "live_acquisition", "console_shared": True, "attended": True, "active_input": True}
OBSERVED_REASON = "observed the scan without operating the scanner"


def _not_counted(result) -> dict[str, int]:
    return {n["reason"]: n["count"] for n in result.detail["not_counted"]}


@pytest.mark.parametrize("ruleset_id", [LEVEL_2, LEVEL_3])
@pytest.mark.parametrize(
    "log",
    [
        pytest.param(lambda n: entries(n, roles=("observed_in_room",)), id="watched in the room"),
        pytest.param(
            lambda n: entries(n, roles=("observed_remotely",), delivery="virtual_live_two_way", **CONSOLE),
            id="watched a shared console",
        ),
        pytest.param(
            lambda n: (
                entries(n // 2, roles=("observed_in_room", "interpreted"))
                + entries(
                    n - n // 2, first_id=1000, roles=("observed_remotely",), delivery="virtual_live_two_way", **CONSOLE
                )
            ),
            id="both, with interpretations",
        ),
    ],
)
def test_observation_never_counts_as_performed(ruleset_id, log):
    required = next(r for r in get_ruleset(ruleset_id).rules if r.key == "hands_on").param("minimum")
    result = shipped(facts(entries=log(required)), ruleset_id, "hands_on")

    assert result.achieved == 0 and not result.met
    assert _not_counted(result)[OBSERVED_REASON] == required


def test_the_reviewers_trainee_is_not_met():
    """50 'hands-on' entries that were all observations (the virtual ones from console-shared sessions), no scan
    performed, no competency signed: not met, and the report says why."""
    log = entries(25, roles=("observed_in_room", "interpreted")) + entries(
        25, first_id=100, roles=("observed_remotely", "interpreted"), delivery="virtual_live_two_way", **CONSOLE
    )
    report = evaluate(facts(entries=log), get_ruleset(LEVEL_2), today=TODAY)

    performed = report.requirement("hands_on")
    assert (performed.achieved, performed.met) == (0, False)
    assert _not_counted(performed) == {OBSERVED_REASON: 50}
    assert not report.all_met


@pytest.mark.parametrize(
    ("performed", "met"),
    [(50, True), (49, False)],
)
@pytest.mark.parametrize("role", ["primary_operator", "assisted_console"])
def test_performed_boundary_with_observations_around(performed, met, role):
    """Exactly at the minimum and one below; observations of other scans add nothing."""
    log = entries(performed, roles=(role,)) + entries(30, first_id=500, roles=("observed_in_room",))
    result = shipped(facts(entries=log), LEVEL_2, "hands_on")

    assert (result.achieved, result.met) == (performed, met)


def test_an_entry_with_both_roles_counts_once_and_is_not_reported_as_observation():
    log = entries(3, roles=("assisted_console", "observed_in_room"))
    result = shipped(facts(entries=log), LEVEL_2, "hands_on")

    assert result.achieved == 3
    assert OBSERVED_REASON not in _not_counted(result)


@pytest.mark.django_db
def test_signing_ten_observations_leaves_performed_unchanged(enrollment, trainee, mentor):
    """Reproduces the issue through the API: ten signed entries whose only role was observing an in-person scan."""
    EntryFactory.create_batch(2, enrollment=enrollment, supervising_mentor=mentor, signed=True, assisted_console=True)
    api = APIClient()
    api.force_login(trainee)

    def performed():
        progress = api.get(f"/api/v1/enrollments/{enrollment.pk}/progress/").json()
        return next(r for r in progress["requirements"] if r["key"] == "hands_on")

    before = performed()
    EntryFactory.create_batch(
        10, enrollment=enrollment, supervising_mentor=mentor, submitted=True, interpreted=False, observed_in_room=True
    )
    ids = list(enrollment.entries.filter(status="submitted").values_list("pk", flat=True))
    mentor_api = APIClient()
    mentor_api.force_login(mentor)
    signed = mentor_api.post("/api/v1/case-logs/sign-batch/", {"ids": ids, "feedback": "Seen."}, format="json")
    assert len(signed.json()["signed"]) == 10

    after = performed()
    assert before["achieved"] == after["achieved"] == 2
    assert {n["reason"]: n["count"] for n in after["detail"]["not_counted"]} == {OBSERVED_REASON: 10}


# --- interpretation means a complete study with the mentor's feedback


@pytest.mark.parametrize("ruleset_id", [LEVEL_2, LEVEL_3])
def test_interpretations_of_incomplete_studies_do_not_count(ruleset_id):
    log = entries(3, roles=("interpreted",)) + entries(10, first_id=100, roles=("interpreted",), complete_study=False)
    result = shipped(facts(entries=log), ruleset_id, "interpreted")

    assert result.achieved == 3


@pytest.mark.parametrize(("complete", "met"), [(150, True), (149, False)])
def test_interpreted_boundary_counts_complete_studies_only(complete, met):
    log = entries(complete, roles=("interpreted",)) + entries(20, first_id=1000, complete_study=False)
    result = shipped(facts(entries=log), LEVEL_2, "interpreted")

    assert (result.achieved, result.met) == (complete, met)


def test_incomplete_studies_are_reported_as_not_counted():
    log = entries(3, roles=("interpreted",)) + entries(4, first_id=100, roles=("interpreted",), complete_study=False)
    result = shipped(facts(entries=log), LEVEL_2, "interpreted")

    assert _not_counted(result) == {"the study was not complete": 4}
