"""The director's table counts entries in the database (Tallies); everything else counts them in Python. Both must
give the same numbers, for every shipped ruleset, on data that exercises every filter and the virtual overlay."""

import dataclasses
import datetime
import random

import pytest
from django.utils import timezone

from curriculum.models import Category
from progress.selectors.facts import gather_facts_for, gather_tallied_facts_for
from trainingportal.engine import evaluate, get_ruleset, list_rulesets, merge_local_rules
from trainingportal.engine.evaluate import tally_entries
from trainingportal.engine.facts import LOW_MENTOR, NO_CONSOLE, NOT_LINKED

from ..factories import (
    AttendanceFactory,
    CaseFactory,
    CredentialFactory,
    EnrollmentFactory,
    EntryFactory,
    SessionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
SLUGS = ["cardiomyopathy", "infarction-viability", "congenital", "safety", "flow", "masses"]


@pytest.fixture
def varied(program, mentor, enrollment, other_enrollment):
    rng = random.Random(7)
    now = timezone.now()
    console_on = SessionFactory(
        program=program, type="live_acquisition", title="Scanner", mentor=mentor, starts_at=now, console_shared=True
    )
    console_off = SessionFactory(
        program=program, type="live_acquisition", title="Scanner 2", mentor=mentor, starts_at=now
    )
    review = SessionFactory(program=program, type="case_review", title="Review", mentor=mentor, starts_at=now)
    elsewhere = SessionFactory(type="live_acquisition", title="Another program", starts_at=now, console_shared=True)
    third = EnrollmentFactory(program=program, mentors=[mentor], max_virtual_share=30)
    # Signers: the Level III mentor mostly, a Level I mentor, and one with no credential recorded.
    level_1 = CredentialFactory(level="I").user
    uncredentialed = UserFactory()
    signers = [mentor, mentor, mentor, level_1, uncredentialed]
    sessions = [console_on, console_off, review, elsewhere]
    for target in (enrollment, other_enrollment, third):
        # Attendance recorded for some sessions, with the trainee's input for some (another program's too).
        for session in sessions:
            if rng.random() < 0.7:
                AttendanceFactory(session=session, enrollment=target, active_input=rng.random() < 0.6)
    for target in (enrollment, other_enrollment, third):
        for _ in range(40):
            roles = {r: rng.random() < p for r, p in [("interpreted", 0.8), ("assisted_console", 0.25),
                                                        ("primary_operator", 0.1), ("observed_in_room", 0.2),
                                                        ("observed_remotely", 0.15), ("protocolled", 0.2)]}  # fmt: skip
            if not any(roles.values()):
                roles["interpreted"] = True
            case = CaseFactory(
                program=program,
                source=rng.choice(["center_archive", "registry", "live_scan", "teaching_file"]),
                complete_study=rng.random() < 0.85,
                categories=rng.sample(SLUGS, rng.randint(0, 3)) or ["cardiomyopathy"],
                diagnosis=rng.choice(["", "hcm", "amyloidosis", "myocarditis", "ihd-viability", "shunt", "normal"]),
                sequences=rng.sample(
                    ["cine", "lge", "t1_mapping", "stress_perfusion", "phase_contrast", "4d_flow"], rng.randint(0, 3)
                ),
            )
            if rng.random() < 0.1:
                case.categories.clear()
            EntryFactory(
                enrollment=target,
                case=case,
                supervising_mentor=rng.choice(signers),
                signer_credential=False,
                performed_on=TODAY - datetime.timedelta(days=rng.randint(-3, 900)),
                delivery=rng.choice(["in_person", "virtual_live_two_way", "asynchronous"]),
                session=rng.choice([None, None, *sessions]),
                signed=rng.random() < 0.85,
                submitted=False,
                **roles,
            )
    return [enrollment, other_enrollment, third]


# A program's local rules on breadth: minima per diagnosis group and per sequence (technique).
BREADTH = merge_local_rules(
    get_ruleset("scmr-2018-level-2"),
    [
        {"key": "cardiomyopathies", "kind": "min_cases", "label": "Cardiomyopathy cases", "minimum": 10,
         "roles_any": ["interpreted"], "diagnosis_groups_any": ["cardiomyopathy", "inflammatory"]},
        {"key": "stress", "kind": "min_cases", "label": "Stress perfusion studies", "minimum": 5,
         "sequences_any": ["stress_perfusion"]},
        {"key": "flow", "kind": "min_cases", "label": "Flow studies", "minimum": 5,
         "sequences_any": ["phase_contrast", "4d_flow"], "complete_study": True},
    ],
)  # fmt: skip
RULESETS = [*list_rulesets(), BREADTH]


@pytest.mark.parametrize("ruleset", RULESETS, ids=lambda r: r.id + ("-local" if r is BREADTH else ""))
def test_database_tallies_equal_python_tallies(varied, ruleset):
    rulesets = {e.pk: ruleset for e in varied}
    by_sql = gather_tallied_facts_for(varied, rulesets, today=TODAY)
    by_python = gather_facts_for(varied)
    for e in varied:
        expected = dataclasses.replace(tally_entries(by_python[e.pk], ruleset, today=TODAY), evidence={})
        assert by_sql[e.pk].tallies == expected


def test_database_and_python_give_the_same_report(varied):
    for ruleset in RULESETS:
        rulesets = {e.pk: ruleset for e in varied}
        by_sql = gather_tallied_facts_for(varied, rulesets, today=TODAY)
        by_python = gather_facts_for(varied)
        for e in varied:
            a = evaluate(by_sql[e.pk], ruleset, today=TODAY)
            b = evaluate(by_python[e.pk], ruleset, today=TODAY)
            strip = [dataclasses.replace(r, evidence=()) for r in b.requirements]
            assert list(a.requirements) == strip
            assert (a.flags, a.forecast, a.pace_per_week, a.weekly) == (b.flags, b.forecast, b.pace_per_week, b.weekly)


def test_the_data_exercises_the_overlay(varied):
    ruleset = next(r for r in list_rulesets() if r.id == "scmr-2018-level-2")
    tallies = [tally_entries(f, ruleset, today=TODAY) for f in gather_facts_for(varied).values()]
    assert sum(t.virtual_without_console for t in tallies) > 0
    assert sum(t.observed_only for t in tallies) > 0
    assert any(t.incomplete for t in tallies)
    assert any(t.excluded for t in tallies)
    reasons = {reason for t in tallies for by_rule in t.excluded.values() for reason in by_rule}
    assert reasons == {LOW_MENTOR, NOT_LINKED, NO_CONSOLE}
    facts = gather_facts_for(varied).values()
    assert any(e.attended and e.active_input and e.is_virtual for f in facts for e in f.entries)
    assert all(t.total > t.virtual > 0 for t in tallies)
    assert Category.objects.filter(cases__entries__enrollment__in=varied).exists()


def test_the_breadth_rules_count_by_diagnosis_group_and_sequence(varied):
    facts = gather_facts_for(varied)
    for e in varied:
        tallies = tally_entries(facts[e.pk], BREADTH, today=TODAY)
        entries = [f for f in facts[e.pk].entries if f.date <= TODAY]
        assert tallies.rule_counts["stress"] == sum(
            1 for f in entries if "stress_perfusion" in f.sequences and f.signer_level in ("II", "III")
            and not (f.delivery == "virtual_live_two_way" and not f.attended)
        )  # fmt: skip
        assert 0 < tallies.rule_counts["cardiomyopathies"] < len(entries)
