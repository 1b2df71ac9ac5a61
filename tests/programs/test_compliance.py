"""The S1–S15 checklist is a pure function: each line flips with its own data."""

from dataclasses import replace

import pytest

from verification.compliance import MET, NOT_EVIDENCED, NOT_MET, Facts, blocking_lines, checklist

COMPLETE = Facts(
    ruleset_id="scmr-2018-level-2",
    ruleset_title="SCMR Level II",
    ruleset_is_scmr=True,
    director_name="Dana Director",
    level3_credential="SCMR Level III (SCMR-L3-1), issued 1 May 2019",
    onsite_training_years=12,
    onsite_trainees_trained=40,
    track_record_evidence="Fellowship since 2012.",
    didactic_source="own_live",
    didactic_source_label="Program faculty, live",
    console_sharing_method="Second camera on the console",
    video_platform="Hospital video platform",
    display_meets_local_standards=True,
    video_setup_attestation="1920x1080 diagnostic display.",
    privacy_attestation=True,
    has_plan=True,
    plan_sha256="a" * 64,
)


def status(facts: Facts, code: str) -> str:
    return {line.code: line.status for line in checklist(facts)}[code]


def test_fifteen_lines_in_order():
    assert [line.code for line in checklist(COMPLETE)] == [f"S{i}" for i in range(1, 16)]


def test_a_complete_profile_has_no_blocking_line():
    assert blocking_lines(checklist(COMPLETE)) == []


@pytest.mark.parametrize(
    "code, before, changes, after",
    [
        ("S1", MET, {"ruleset_is_scmr": False, "ruleset_id": "cbcmr-maintenance"}, NOT_MET),
        ("S2", MET, {"level3_credential": ""}, NOT_MET),
        ("S3", MET, {"onsite_training_years": None}, NOT_MET),
        ("S3", MET, {"onsite_trainees_trained": 0}, NOT_MET),
        ("S3", MET, {"track_record_evidence": "  "}, NOT_MET),
        ("S4", NOT_EVIDENCED, {"didactic_source": ""}, NOT_MET),
        ("S4", NOT_EVIDENCED, {"lecture_count": 3, "lecture_hours": 4.5}, MET),
        ("S5", NOT_EVIDENCED, {"console_sharing_method": ""}, NOT_MET),
        ("S5", NOT_EVIDENCED, {"console_shared_sessions": 1}, MET),
        ("S6", NOT_EVIDENCED, {"input_sessions": 1}, MET),
        ("S6", NOT_EVIDENCED, {"active_input_attendances": 2}, MET),
        ("S7", NOT_EVIDENCED, {"complete_study_cases": 5}, MET),
        ("S8", NOT_EVIDENCED, {"safety_module_count": 1}, MET),
        ("S9", MET, {"video_platform": ""}, NOT_MET),
        ("S9", MET, {"display_meets_local_standards": False}, NOT_MET),
        ("S9", MET, {"video_setup_attestation": ""}, NOT_MET),
        ("S10", MET, {"privacy_attestation": False}, NOT_MET),
        ("S11", NOT_EVIDENCED, {"has_plan": False}, NOT_MET),
        ("S11", NOT_EVIDENCED, {"verification_status": "verified"}, MET),
        ("S12", NOT_EVIDENCED, {"feedback_responses": 2}, MET),
        ("S13", MET, {"interactive_group_cap": 12}, NOT_MET),
        ("S14", MET, {"max_virtual_share": 100}, NOT_MET),
        ("S14", MET, {"max_virtual_share": 0}, NOT_MET),
        ("S15", NOT_EVIDENCED, {"final_determinations": 1}, MET),
    ],
)
def test_each_line_flips_with_its_data(code, before, changes, after):
    assert status(COMPLETE, code) == before
    changed = replace(COMPLETE, **changes)
    assert status(changed, code) == after
    # Only that line moves (the console sharing method is part of both S5 and S9).
    shared = {"S5", "S9"} if "console_sharing_method" in changes else {code}
    others = {line.code: line.status for line in checklist(changed) if line.code not in shared}
    assert others == {line.code: line.status for line in checklist(COMPLETE) if line.code not in shared}


def test_lines_that_need_a_running_program_never_block():
    empty = Facts()
    statuses = {line.code: line.status for line in checklist(empty)}
    for code in ("S6", "S7", "S8", "S12", "S15"):
        assert statuses[code] == NOT_EVIDENCED
    assert {line.code for line in blocking_lines(checklist(empty))} == {
        "S1", "S2", "S3", "S4", "S5", "S9", "S10", "S11",
    }  # fmt: skip


def test_evidence_names_what_is_missing():
    line = checklist(replace(COMPLETE, video_platform="", display_meets_local_standards=False))[8]
    assert line.evidence == "Missing: video platform, display attestation."
