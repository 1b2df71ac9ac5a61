"""Acceptance suite for the evidence a Level II verification rests on (SCMR 2018 Level II with the SCMR 2021
virtual-training statement): the shipped `scmr-2018-level-2` ruleset against hand-built Facts. Pure engine, no
database.

What the statement asks and these tests hold the engine to:
- performing a scan means operating the scanner: watching it, in the room or remotely, is not hands-on experience;
- virtual training "substitutes a portion of the required in-person training ... provided there is active
  participation between the trainee and the mentor": virtual entries count from an attended session, acquisition only
  with the console shared and the trainee's input, and only up to the share of each minimum that may be virtual;
- "stress testing and supervision of individuals with cardiac implantable electronic devices may require an in-person
  experience": a virtual sign-off never covers them, the mentor's record of prior experience does;
- recording more evidence never makes a trainee fail.
"""

import dataclasses
import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from trainingportal.engine import (
    EntryFact,
    Facts,
    LectureFact,
    ProgramFacts,
    RulesetError,
    SignOffFact,
    evaluate,
    get_ruleset,
    list_rulesets,
    load_ruleset,
)
from trainingportal.engine.evaluate import CURRICULUM
from trainingportal.engine.facts import IN_PERSON, LOW_MENTOR, NO_CONSOLE, NOT_LINKED, OVER_VIRTUAL_SHARE, VIRTUAL_LIVE
from trainingportal.engine.rulesets import RULESET_DIR

TODAY = date(2026, 11, 20)
LEVEL_2 = "scmr-2018-level-2"
LEVEL_3 = "scmr-2018-level-3"
TOPICS = tuple(slug for slug, _ in CURRICULUM)
STRESS, CIED = "stress-testing", "cied-scanning"
FRAMEWORK = (
    (STRESS, "Stress testing"),
    (CIED, "Scanning patients with cardiac implantable electronic devices"),
)
OBSERVED = "observed the scan without operating the scanner"
INCOMPLETE = "the study was not complete"
PERFORMED_LABEL = "cases performed (primary operator or assisting at the console)"

# A virtual live acquisition as SCMR 2021 accepts it: from a live acquisition session of the program the trainee
# attended, with the scanner console shared and the trainee's input recorded.
LIVE_CONSOLE = {"session_type": "live_acquisition", "console_shared": True, "attended": True, "active_input": True}
# A virtual live read from an attended case review.
CASE_REVIEW = {"session_type": "case_review", "attended": True}


# --- builders ---------------------------------------------------------------------------------------------------

_ids = itertools.count(1)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def cases(
    n: int, *, roles, delivery: str = IN_PERSON, days_ago: int = 30, topics=TOPICS, **fields
) -> tuple[EntryFact, ...]:
    """`n` signed entries, each on one of `topics` in turn (15 of them cover the curriculum); signed by a Level II
    mentor, the Level II minimum, unless `signer_level` says otherwise."""
    fields.setdefault("signer_level", "II")
    return tuple(
        EntryFact(
            id=next(_ids),
            date=ago(days_ago),
            roles=frozenset(roles),
            delivery=delivery,
            categories=frozenset({topics[i % len(topics)]}),
            **fields,
        )
        for i in range(n)
    )


def interpretations(n: int, **fields) -> tuple[EntryFact, ...]:
    """Complete studies interpreted with the mentor's review, in person unless `delivery` says otherwise."""
    return cases(n, roles=("interpreted",), **fields)


def performed(n: int, **fields) -> tuple[EntryFact, ...]:
    """Scans the trainee performed as the primary operator."""
    return cases(n, roles=("primary_operator",), **fields)


def virtual_performed(n: int, **fields) -> tuple[EntryFact, ...]:
    """Scans performed virtually the way SCMR 2021 accepts: attended, console shared, trainee's input recorded."""
    return performed(n, delivery=VIRTUAL_LIVE, **{**LIVE_CONSOLE, **fields})


def virtual_reads(n: int, **fields) -> tuple[EntryFact, ...]:
    """Interpretations from attended virtual case reviews."""
    return interpretations(n, delivery=VIRTUAL_LIVE, **{**CASE_REVIEW, **fields})


def signed(code: str, *, delivery: str = "in_person", days_ago: int = 10) -> SignOffFact:
    return SignOffFact(code, delivery, ago(days_ago))


def trainee(*logs: tuple[EntryFact, ...], start_days_ago: int = 120, **fields) -> Facts:
    """A Level II trainee whose framework needs stress testing and CIED scanning in person."""
    fields.setdefault("in_person_competencies", FRAMEWORK)
    return Facts(
        enrollment_id=1, start_date=ago(start_days_ago), entries=tuple(itertools.chain.from_iterable(logs)), **fields
    )


def complete_trainee(*extra: tuple[EntryFact, ...], **fields) -> Facts:
    """Honestly complete: 4 months, 150 complete in-person interpretations covering every topic, 50 scans performed in
    person, both in-person competencies signed in person."""
    fields.setdefault("sign_offs", (signed(STRESS), signed(CIED)))
    return trainee(interpretations(150), performed(50), *extra, **fields)


def level_2(f: Facts, ruleset_id: str = LEVEL_2):
    return evaluate(f, get_ruleset(ruleset_id), today=TODAY)


def reasons(result) -> dict[str, int]:
    """A min_cases result's "not counted" entries: {reason: count}."""
    return {n["reason"]: n["count"] for n in result.detail["not_counted"]}


def over_share_count(result) -> int:
    return sum(n["count"] for n in result.detail["not_counted"] if n["reason"].startswith(OVER_VIRTUAL_SHARE))


# --- the trainee in the issue -----------------------------------------------------------------------------------


def the_trainee_above() -> Facts:
    """160 complete in-person interpretations over 4 months, every topic covered, and 50 "hands-on" entries that are all
    observations: half in the room, half remotely from attended live acquisition sessions with the console shared.
    No competency signed off."""
    return trainee(
        interpretations(160),
        cases(25, roles=("observed_in_room",)),
        cases(25, roles=("observed_remotely",), delivery=VIRTUAL_LIVE, **LIVE_CONSOLE),
    )


def test_the_trainee_above_is_not_ready_for_verification():
    report = level_2(the_trainee_above())

    assert not report.all_met
    assert {r.key for r in report.requirements if not r.met} == {"hands_on", "in_person_competencies"}
    assert "missing_in_person" in report.flag_codes


def test_the_trainee_above_performed_no_scan_and_the_report_says_why():
    hands_on = level_2(the_trainee_above()).requirement("hands_on")

    assert not hands_on.met and hands_on.achieved == 0 and hands_on.evidence == ()
    assert reasons(hands_on) == {OBSERVED: 50}
    assert hands_on.missing == f"50 more {PERFORMED_LABEL}; 25 more in person (at least 25 in person)"


def test_the_trainee_above_has_no_in_person_competency():
    result = level_2(the_trainee_above()).requirement("in_person_competencies")

    assert not result.met and (result.achieved, result.required) == (0, 2)
    assert result.missing == (
        "Sign in person: Stress testing, Scanning patients with cardiac implantable electronic devices"
    )


def test_the_trainee_above_meets_what_they_did_do():
    report = level_2(the_trainee_above())

    assert all(report.requirement(key).met for key in ("duration", "interpreted", "curriculum", "group_cap"))


# --- a complete trainee -----------------------------------------------------------------------------------------


def test_an_honestly_complete_level_2_trainee_meets_every_requirement():
    report = level_2(complete_trainee())

    assert report.all_met, report.missing
    assert [r.key for r in report.requirements] == [
        "duration",
        "interpreted",
        "hands_on",
        "curriculum",
        "in_person_competencies",
        "group_cap",
    ]
    assert report.flags == () and report.missing == []
    assert report.overlay and report.virtual_cap == 50 and report.mentor_min_level == "II"


def test_a_complete_trainee_may_have_done_the_allowed_share_virtually():
    """Half of the hands-on (25 of 50) and of the interpretations (75 of 150) virtual, the rest in person."""
    f = trainee(
        interpretations(75),
        virtual_reads(75),
        performed(25),
        virtual_performed(25),
        sign_offs=(signed(STRESS), signed(CIED)),
    )
    report = level_2(f)

    assert report.all_met, report.missing
    assert report.virtual_share == 50.0 and "over_virtual_cap" not in report.flag_codes


# --- variants: each falls short, and the report says why --------------------------------------------------------


def test_virtual_only_hands_on_is_not_enough():
    f = trainee(interpretations(150), virtual_performed(50), sign_offs=(signed(STRESS), signed(CIED)))
    hands_on = level_2(f).requirement("hands_on")

    assert not hands_on.met and hands_on.achieved == 25
    assert (hands_on.detail["in_person"], hands_on.detail["virtual"], hands_on.detail["virtual_counted"]) == (0, 50, 25)
    assert reasons(hands_on) == {f"{OVER_VIRTUAL_SHARE} (50%: at most 25 of 50)": 25}
    assert hands_on.missing == f"25 more {PERFORMED_LABEL}; 25 more in person (at least 25 in person)"


def test_unlinked_virtual_live_entries_do_not_count():
    """Virtual live scans not linked to a session the trainee attended: no evidence of active participation."""
    unlinked = {**LIVE_CONSOLE, "attended": False}
    f = trainee(interpretations(150), performed(25), virtual_performed(25, **unlinked), sign_offs=(signed(STRESS),))
    hands_on = level_2(f).requirement("hands_on")

    assert not hands_on.met and hands_on.achieved == 25
    assert reasons(hands_on) == {NOT_LINKED: 25}


def test_unlinked_virtual_reads_do_not_count():
    f = trainee(interpretations(75), virtual_reads(75, attended=False), performed(50))
    interpreted = level_2(f).requirement("interpreted")

    assert not interpreted.met and interpreted.achieved == 75
    assert reasons(interpreted) == {NOT_LINKED: 75}


@pytest.mark.parametrize(
    "session",
    [
        {**LIVE_CONSOLE, "console_shared": False},  # the trainee could not see the console
        {**LIVE_CONSOLE, "active_input": False},  # no input of the trainee recorded
        {**CASE_REVIEW, "console_shared": True, "active_input": True},  # a case review, not a live acquisition
    ],
)
def test_virtual_acquisition_without_the_console_shared_does_not_count(session):
    f = trainee(interpretations(150), performed(25), performed(25, delivery=VIRTUAL_LIVE, **session))
    hands_on = level_2(f).requirement("hands_on")

    assert not hands_on.met and hands_on.achieved == 25
    assert reasons(hands_on) == {NO_CONSOLE: 25}
    assert hands_on.detail["virtual_without_console"] == 25


def test_incomplete_studies_are_not_counted_as_interpretations():
    f = trainee(interpretations(140), interpretations(10, complete_study=False), performed(50))
    interpreted = level_2(f).requirement("interpreted")

    assert not interpreted.met and interpreted.achieved == 140
    assert reasons(interpreted) == {INCOMPLETE: 10}
    assert interpreted.missing == "10 more complete studies interpreted with a mentor's review"


@pytest.mark.parametrize("signer", ["I", None])
def test_entries_signed_below_level_2_count_for_nothing(signer):
    f = trainee(
        interpretations(140), interpretations(10, signer_level=signer), performed(49), performed(1, signer_level=signer)
    )
    report = level_2(f)

    assert not report.requirement("interpreted").met and report.requirement("interpreted").achieved == 140
    assert reasons(report.requirement("interpreted")) == {LOW_MENTOR: 10}
    assert not report.requirement("hands_on").met and reasons(report.requirement("hands_on")) == {LOW_MENTOR: 1}


def test_a_missing_in_person_competency_is_named():
    report = level_2(complete_trainee(sign_offs=(signed(STRESS),)))

    assert not report.all_met
    assert report.missing == ["Sign in person: Scanning patients with cardiac implantable electronic devices"]
    assert "missing_in_person" in report.flag_codes


def test_a_virtual_sign_off_of_stress_testing_does_not_satisfy_it():
    report = level_2(complete_trainee(sign_offs=(signed(STRESS, delivery="virtual"), signed(CIED))))
    result = report.requirement("in_person_competencies")

    assert not result.met and result.achieved == 1
    assert result.missing == "Sign in person: Stress testing (signed only virtually)"


def test_prior_experience_the_mentor_recorded_covers_a_competency():
    f = complete_trainee(sign_offs=(signed(STRESS),), prior_experience=frozenset({CIED}))
    report = level_2(f)
    result = report.requirement("in_person_competencies")

    assert result.met and report.all_met
    assert result.detail == {"signed_in_person": [STRESS], "prior_experience": [CIED]}


@pytest.mark.parametrize(
    ("trainee_cap", "allowance", "met"),
    [
        (None, 75, True),  # the program's 50%: 75 of 150 may be virtual
        (40, 60, False),  # the mentor lowered it to 40%: 60 of 150
        (50, 75, True),
        (60, 75, True),  # above the program's 50%: no effect, the lower one applies
    ],
)
def test_the_trainees_lower_virtual_share_lowers_the_allowance(trainee_cap, allowance, met):
    f = trainee(interpretations(75), virtual_reads(75), performed(50), trainee_max_virtual_share=trainee_cap)
    interpreted = level_2(f).requirement("interpreted")

    assert interpreted.met is met
    assert interpreted.achieved == 75 + allowance
    assert interpreted.detail["virtual_counted"] == allowance
    if not met:
        reason = f"{OVER_VIRTUAL_SHARE} ({trainee_cap}%: at most {allowance} of 150)"
        assert reasons(interpreted) == {reason: 75 - allowance}


@pytest.mark.parametrize(("trainee_cap", "met"), [(40, False), (50, True), (60, True)])
def test_the_trainees_lower_virtual_share_also_lowers_the_hands_on_allowance(trainee_cap, met):
    f = trainee(interpretations(150), performed(25), virtual_performed(25), trainee_max_virtual_share=trainee_cap)
    hands_on = level_2(f).requirement("hands_on")

    assert hands_on.met is met
    assert hands_on.detail["virtual_cap"] == min(trainee_cap, 50)


def test_level_3_without_the_overlay_counts_an_unlinked_virtual_live_entry():
    f = trainee(interpretations(1, delivery=VIRTUAL_LIVE, signer_level="III"))
    shipped = get_ruleset(LEVEL_3)

    assert evaluate(f, shipped, today=TODAY).requirement("interpreted").achieved == 1
    opted_in = evaluate(f, shipped.with_overlay(), today=TODAY).requirement("interpreted")
    assert opted_in.achieved == 0 and reasons(opted_in) == {NOT_LINKED: 1}


def test_a_lecture_on_safety_covers_the_safety_topic_but_one_on_flow_does_not_cover_flow():
    """Level II lets a completed lecture cover MR safety and contrast agents; flow needs a case."""
    others = tuple(slug for slug in TOPICS if slug not in ("safety", "flow"))
    lectures = (LectureFact(1, ago(20), 1.0, "safety"), LectureFact(2, ago(20), 1.0, "flow"))
    f = trainee(interpretations(150, topics=others), performed(50, topics=others), lectures=lectures)
    curriculum = level_2(f).requirement("curriculum")

    assert not curriculum.met and (curriculum.achieved, curriculum.required) == (14, 15)
    assert curriculum.detail["lectures"] == {"safety": [1]}
    assert curriculum.missing == "Curriculum topics not yet covered: Flow quantification"


@pytest.mark.parametrize(
    "fields",
    [{"signer_level": "I"}, {"delivery": VIRTUAL_LIVE, "attended": False}],
    ids=["signed by a Level I mentor", "unlinked virtual read"],
)
def test_every_entry_left_out_is_explained(fields):
    interpreted = level_2(trainee(interpretations(1, complete_study=False, **fields))).requirement("interpreted")

    assert interpreted.achieved == 0
    assert sum(reasons(interpreted).values()) == 1, "the entry left out has no reason in the report"


# --- recording evidence never punishes --------------------------------------------------------------------------

EXTRA_EVIDENCE = {
    "a virtual sign-off of stress testing": {"sign_offs": (signed(STRESS, delivery="virtual"),)},
    "300 more virtual reads": {"entries": virtual_reads(300)},
    "100 more virtual scans": {"entries": virtual_performed(100)},
    "unlinked virtual entries": {"entries": virtual_reads(40, attended=False) + virtual_performed(40, attended=False)},
    "virtual scans without the console": {"entries": virtual_performed(30, console_shared=False)},
    "remote observations": {"entries": cases(60, roles=("observed_remotely",), delivery=VIRTUAL_LIVE, **LIVE_CONSOLE)},
    "entries signed by a Level I mentor": {"entries": interpretations(30, signer_level="I")},
    "incomplete studies": {"entries": interpretations(30, complete_study=False)},
    "asynchronous reads": {"entries": interpretations(200, delivery="asynchronous")},
}


@pytest.mark.parametrize("name", EXTRA_EVIDENCE)
def test_more_evidence_never_makes_a_complete_trainee_fail(name):
    extra = EXTRA_EVIDENCE[name]
    complete = complete_trainee()
    more = dataclasses.replace(
        complete,
        entries=complete.entries + extra.get("entries", ()),
        sign_offs=complete.sign_offs + extra.get("sign_offs", ()),
    )

    before, after = level_2(complete), level_2(more)

    assert after.all_met, after.missing
    assert all(a.achieved >= b.achieved for a, b in zip(after.requirements, before.requirements, strict=True))


# --- boundaries: exactly at, one below --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_person", "virtual", "met", "achieved"),
    [
        (25, 25, True, 50),  # exactly the in-person minimum and exactly the virtual allowance
        (24, 26, False, 49),  # one in person short; the 26th virtual scan is over the allowance
        (25, 24, False, 49),  # in person met, one scan short
        (50, 0, True, 50),
        (49, 0, False, 49),
        (26, 24, True, 50),
    ],
)
def test_hands_on_boundaries(in_person, virtual, met, achieved):
    f = trainee(interpretations(150), performed(in_person), virtual_performed(virtual))
    hands_on = level_2(f).requirement("hands_on")

    assert (hands_on.met, hands_on.achieved) == (met, achieved)
    assert hands_on.detail["in_person"] == in_person and hands_on.detail["min_in_person"] == 25
    assert over_share_count(hands_on) == max(virtual - 25, 0)


@pytest.mark.parametrize(
    ("in_person", "virtual", "met", "achieved"),
    [
        (75, 75, True, 150),  # exactly the program's 50%
        (74, 76, False, 149),  # one virtual read over it
        (150, 0, True, 150),
        (149, 0, False, 149),
    ],
)
def test_interpreted_boundaries_under_the_programs_cap(in_person, virtual, met, achieved):
    f = trainee(
        interpretations(in_person), virtual_reads(virtual), performed(50), program=ProgramFacts(max_virtual_share=50)
    )
    interpreted = level_2(f).requirement("interpreted")

    assert (interpreted.met, interpreted.achieved) == (met, achieved)
    assert interpreted.detail["virtual_cap"] == 50 and interpreted.detail["min_in_person"] == 0
    assert over_share_count(interpreted) == max(virtual - 75, 0)


@pytest.mark.parametrize(
    ("ruleset_id", "signer", "counts"),
    [
        (LEVEL_2, "II", True),  # exactly the minimum
        (LEVEL_2, "I", False),  # one below
        (LEVEL_2, None, False),  # no credential recorded
        (LEVEL_2, "III", True),
        (LEVEL_2, "AP", True),
        (LEVEL_2, "EQ", True),
        (LEVEL_3, "III", True),  # exactly the minimum
        (LEVEL_3, "AP", True),  # an Advanced Practitioner ranks with Level III
        (LEVEL_3, "EQ", True),  # so does an equivalent CMR expert
        (LEVEL_3, "II", False),  # one below
        (LEVEL_3, "I", False),
    ],
)
def test_mentor_level_boundaries(ruleset_id, signer, counts):
    f = trainee(interpretations(1, signer_level=signer), performed(1, signer_level=signer))
    report = level_2(f, ruleset_id)

    for key in ("interpreted", "hands_on"):
        result = report.requirement(key)
        assert result.achieved == (1 if counts else 0), key
        assert reasons(result) == ({} if counts else {LOW_MENTOR: 1}), key


ONE_BELOW = {
    "duration": {"start_days_ago": 91},  # 2.99 months
    "interpreted": {"interpretations": 149},
    "hands_on": {"performed": 49},
    "curriculum": {"topics": 14},
    "in_person_competencies": {"sign_offs": (signed(STRESS),)},
}


def one_below(key: str | None) -> Facts:
    """The complete trainee at every minimum exactly, or one unit below it on the requirement `key`."""
    below = ONE_BELOW.get(key, {})
    topics = TOPICS[: below.get("topics", 15)]
    return trainee(
        interpretations(below.get("interpretations", 150), topics=topics),
        performed(below.get("performed", 50), topics=topics),
        start_days_ago=below.get("start_days_ago", 92),
        sign_offs=below.get("sign_offs", (signed(STRESS), signed(CIED))),
    )


def test_exactly_at_every_minimum_is_complete():
    assert level_2(one_below(None)).all_met


@pytest.mark.parametrize("key", ONE_BELOW)
def test_one_below_a_minimum_fails_that_requirement_only(key):
    report = level_2(one_below(key))

    assert [r.key for r in report.requirements if not r.met] == [key]
    assert report.requirement(key).missing


# --- every shipped ruleset cites what it rests on ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", [False, True], ids=["as shipped", "with the overlay"])
@pytest.mark.parametrize("ruleset_id", sorted(r.id for r in list_rulesets()))
def test_every_result_cites_its_source_and_says_how_sure_we_are(ruleset_id, overlay):
    ruleset = get_ruleset(ruleset_id)
    if overlay:
        ruleset = ruleset.with_overlay()
    report = evaluate(trainee(interpretations(5)), ruleset, today=TODAY)

    if ruleset.virtual_overlay:
        assert {"in_person_competencies", "group_cap"} <= {r.key for r in report.requirements if r.overlay}
    for result in report.requirements:
        assert result.source and result.citation, result.key
        assert result.cites.strip(), result.key
        assert result.confidence.strip(), result.key


@pytest.mark.parametrize("ruleset_id", sorted(r.id for r in list_rulesets()))
def test_every_citation_of_a_shipped_ruleset_is_used(ruleset_id):
    ruleset = get_ruleset(ruleset_id)
    assert ruleset.used_sources() == set(ruleset.citations)


def shipped_data(ruleset_id: str) -> dict:
    return yaml.safe_load((RULESET_DIR / f"{ruleset_id}.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['id']}.yaml"  # the id must equal the file stem
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("ruleset_id", sorted(r.id for r in list_rulesets()))
def test_a_shipped_ruleset_copied_unchanged_loads(tmp_path, ruleset_id):
    assert load_ruleset(write(tmp_path, shipped_data(ruleset_id))) == get_ruleset(ruleset_id)


@pytest.mark.parametrize("ruleset_id", sorted(r.id for r in list_rulesets()))
def test_a_ruleset_listing_an_unused_citation_is_refused(tmp_path, ruleset_id):
    data = shipped_data(ruleset_id)
    data["citations"]["unused-paper"] = "Someone et al. A paper no rule rests on. 2020."

    with pytest.raises(RulesetError, match=rf"^{ruleset_id}\.yaml: citations no rule uses: unused-paper$"):
        load_ruleset(write(tmp_path, data))


@pytest.mark.parametrize("field", ["cites", "confidence"])
@pytest.mark.parametrize("ruleset_id", sorted(r.id for r in list_rulesets()))
def test_a_rule_without_what_it_cites_or_its_confidence_is_refused(tmp_path, ruleset_id, field):
    data = shipped_data(ruleset_id)
    rule = data["requirements"][-1]
    del rule[field]

    message = rf"^{ruleset_id}\.yaml: requirement '{rule['key']}' needs a source, what it cites and a confidence$"
    with pytest.raises(RulesetError, match=message):
        load_ruleset(write(tmp_path, data))
