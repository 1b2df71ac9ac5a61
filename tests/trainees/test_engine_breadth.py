"""Breadth rules (issue 9): minima per diagnosis group and per sequence, counted from the structured case fields."""

from datetime import date, timedelta

import pytest

from trainingportal.engine import EntryFact, Facts, evaluate
from trainingportal.engine.rulesets import RulesetError, merge_local_rules, parse_ruleset

TODAY = date(2026, 11, 20)


def entry(i, *, group="", sequences=(), roles=("interpreted",)):
    return EntryFact(
        id=i,
        date=TODAY - timedelta(days=1),
        roles=frozenset(roles),
        delivery="in_person",
        signer_level="III",
        diagnosis_group=group,
        sequences=frozenset(sequences),
    )


def ruleset(**params):
    return parse_ruleset(
        {
            "id": "breadth",
            "title": "Breadth",
            "version": 1,
            "body": "TEST",
            "target_level": "II",
            "scmr": False,
            "requirements": [{"key": "r", "kind": "min_cases", "label": "Rule", "minimum": 3, **params}],
        }
    )


def result(entries, **params):
    facts = Facts(enrollment_id=1, start_date=TODAY - timedelta(days=100), entries=tuple(entries))
    return evaluate(facts, ruleset(**params), today=TODAY).requirements[0]


@pytest.mark.parametrize(("n", "met"), [(3, True), (2, False)])
def test_a_minimum_per_diagnosis_group_counts_only_that_group(n, met):
    log = [entry(i, group="cardiomyopathy") for i in range(n)] + [entry(10 + i, group="valvular") for i in range(5)]
    r = result(log, diagnosis_groups_any=["cardiomyopathy"])
    assert (r.achieved, r.met) == (n, met)


@pytest.mark.parametrize(("n", "met"), [(3, True), (2, False)])
def test_a_minimum_per_sequence_counts_studies_with_any_of_them(n, met):
    log = [entry(i, sequences={"stress_perfusion", "lge"}) for i in range(n)] + [entry(9, sequences={"cine"})]
    r = result(log, sequences_any=["stress_perfusion", "4d_flow"])
    assert (r.achieved, r.met) == (n, met)


def test_an_uncoded_case_counts_for_no_group_and_no_sequence():
    log = [entry(i) for i in range(5)]
    assert result(log, diagnosis_groups_any=["normal"]).achieved == 0
    assert result(log, sequences_any=["cine"]).achieved == 0


def test_a_local_rule_may_not_widen_the_groups_or_sequences_of_a_base_rule():
    base = ruleset(diagnosis_groups_any=["cardiomyopathy"], sequences_any=["lge"])
    with pytest.raises(RulesetError, match="widens diagnosis_groups_any"):
        merge_local_rules(base, [{"key": "r", "kind": "min_cases", "label": "R", "minimum": 3,
                                  "diagnosis_groups_any": ["cardiomyopathy", "normal"]}])  # fmt: skip
    with pytest.raises(RulesetError, match="widens sequences_any"):
        merge_local_rules(base, [{"key": "r", "kind": "min_cases", "label": "R", "minimum": 3,
                                  "sequences_any": ["lge", "cine"]}])  # fmt: skip


def test_a_topic_is_covered_only_by_an_entry_that_counts():
    """Signed by a mentor below the ruleset's level, or virtual live without an attended session: no coverage."""
    from trainingportal.engine import get_ruleset

    def fact(i, **fields):
        return EntryFact(
            id=i, date=TODAY - timedelta(days=1), roles=frozenset({"interpreted"}), categories=frozenset({"masses"}),
            **{"delivery": "in_person", "signer_level": "III", **fields},
        )  # fmt: skip

    def covered(*entries):
        facts = Facts(enrollment_id=1, start_date=TODAY - timedelta(days=100), entries=entries)
        report = evaluate(facts, get_ruleset("scmr-2018-level-2"), today=TODAY)
        return report.requirement("curriculum").detail["counts"]["masses"]

    assert covered(fact(1)) == 1
    assert covered(fact(1, signer_level="I")) == 0
    assert covered(fact(1, signer_level=None)) == 0
    assert covered(fact(1, delivery="virtual_live_two_way")) == 0
    assert covered(fact(1, delivery="virtual_live_two_way", attended=True)) == 1
