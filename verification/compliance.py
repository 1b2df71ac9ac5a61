"""The S1–S15 compliance checklist of a program (SPEC section 1): a pure function from facts to lines.

`checklist(facts)` never touches the database; `verification.selectors.program_compliance_facts` gathers the facts.

What blocks submission: a line is `not_met` only for conditions the director declares before the program starts
(S1 ruleset, S2 Level III director, S3 track record, S4 didactic source, S5 console sharing method, S9 video set-up,
S10 privacy attestation, S11 remote training plan uploaded, S13 group cap, S14 virtual share). Lines that can only be
evidenced once the program runs (S4 lectures, S5 sessions with the console shared, S6, S7, S8, S11 SCMR decision,
S12, S15) are `not_evidenced` until the data exists and never block submission.
"""

from dataclasses import dataclass

MET = "met"
NOT_MET = "not_met"
NOT_EVIDENCED = "not_evidenced"

STATUS_LABELS = {MET: "Met", NOT_MET: "Not met", NOT_EVIDENCED: "Not yet evidenced"}

# "A small group of trainees per mentor" (the paper gives no number): we accept up to 6, default 4.
SMALL_GROUP_MAX = 6


@dataclass(frozen=True)
class Facts:
    ruleset_id: str = ""
    ruleset_title: str = ""
    ruleset_is_scmr: bool = False
    director_name: str = ""
    level3_credential: str = ""  # "SCMR Level III (id), issued 2019-05-01" or ""
    onsite_training_years: int | None = None
    onsite_trainees_trained: int | None = None
    track_record_evidence: str = ""
    didactic_source: str = ""
    didactic_source_label: str = ""
    lecture_count: int = 0
    lecture_hours: float = 0
    safety_module_count: int = 0
    console_sharing_method: str = ""
    console_shared_sessions: int = 0
    input_sessions: int = 0  # protocol selection / planning & troubleshooting sessions
    active_input_attendances: int = 0
    complete_study_cases: int = 0
    video_platform: str = ""
    display_meets_local_standards: bool = False
    video_setup_attestation: str = ""
    privacy_attestation: bool = False
    has_plan: bool = False
    plan_sha256: str = ""
    verification_status: str = "draft"
    feedback_responses: int = 0
    interactive_group_cap: int | None = 4
    max_virtual_share: int | None = 50
    final_determinations: int = 0


@dataclass(frozen=True)
class Line:
    code: str  # S1 … S15
    title: str
    status: str  # met / not_met / not_evidenced
    evidence: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def blocks_submission(self) -> bool:
        return self.status == NOT_MET


def _s1(f: Facts) -> Line:
    title = "Compliant with the SCMR 2018 training guidelines"
    if f.ruleset_is_scmr:
        return Line("S1", title, MET, f"Trainees are evaluated against {f.ruleset_title} ({f.ruleset_id}).")
    if f.ruleset_id:
        return Line("S1", title, NOT_MET, f"Ruleset {f.ruleset_id} is not an SCMR ruleset: choose an SCMR one.")
    return Line("S1", title, NOT_MET, "No ruleset chosen.")


def _s2(f: Facts) -> Line:
    title = "Led by a Level III / Advanced Practitioner"
    if f.level3_credential:
        return Line("S2", title, MET, f"{f.director_name}: {f.level3_credential}.")
    return Line("S2", title, NOT_MET, f"No Level III credential recorded for the director {f.director_name}.")


def _s3(f: Facts) -> Line:
    title = "Track record of on-site training"
    missing = []
    if not f.onsite_training_years:
        missing.append("years of on-site training")
    if not f.onsite_trainees_trained:
        missing.append("trainees trained on site")
    if not f.track_record_evidence.strip():
        missing.append("evidence")
    if missing:
        return Line("S3", title, NOT_MET, "Missing: " + ", ".join(missing) + ".")
    return Line(
        "S3",
        title,
        MET,
        f"{f.onsite_training_years} years, {f.onsite_trainees_trained} trainees trained on site. "
        f"{f.track_record_evidence.strip()}",
    )


def _s4(f: Facts) -> Line:
    title = "Didactics by program faculty or a pre-recorded series"
    if not f.didactic_source:
        return Line("S4", title, NOT_MET, "No didactic source chosen.")
    if not f.lecture_count:
        return Line("S4", title, NOT_EVIDENCED, f"{f.didactic_source_label}; no lectures in the library yet.")
    return Line(
        "S4",
        title,
        MET,
        f"{f.didactic_source_label}; {f.lecture_count} lectures, {f.lecture_hours:g} h in the library.",
    )


def _s5(f: Facts) -> Line:
    title = "Trainee sees the scanner console during the scan"
    if not f.console_sharing_method.strip():
        return Line("S5", title, NOT_MET, "No console sharing method described.")
    if not f.console_shared_sessions:
        return Line(
            "S5", title, NOT_EVIDENCED, f"Method: {f.console_sharing_method}. No session with the console shared yet."
        )
    return Line(
        "S5",
        title,
        MET,
        f"Method: {f.console_sharing_method}. {f.console_shared_sessions} live acquisition sessions with the console "
        "shared.",
    )


def _s6(f: Facts) -> Line:
    title = "Trainee input on sequences, or planning and troubleshooting sessions"
    if f.input_sessions or f.active_input_attendances:
        return Line(
            "S6",
            title,
            MET,
            f"{f.input_sessions} protocol/planning sessions; {f.active_input_attendances} attendances with the "
            "trainee's active input.",
        )
    return Line("S6", title, NOT_EVIDENCED, "No protocol-selection or planning session, no recorded trainee input yet.")


def _s7(f: Facts) -> Line:
    title = "Full interpretation of complete studies with mentor feedback"
    if f.complete_study_cases:
        return Line("S7", title, MET, f"{f.complete_study_cases} complete-study cases in the program's case log.")
    return Line("S7", title, NOT_EVIDENCED, "No complete-study cases logged yet.")


def _s8(f: Facts) -> Line:
    title = "Safety; in-person experience where needed"
    if f.safety_module_count:
        return Line(
            "S8", title, MET, "MR-safety module in the lecture library; in-person-required competencies are enforced."
        )
    return Line("S8", title, NOT_EVIDENCED, "No MR-safety module in the lecture library yet.")


def _s9(f: Facts) -> Line:
    title = "Video equipment meets local standards for image review"
    missing = []
    if not f.video_platform.strip():
        missing.append("video platform")
    if not f.console_sharing_method.strip():
        missing.append("console sharing method")
    if not f.display_meets_local_standards:
        missing.append("display attestation")
    if not f.video_setup_attestation.strip():
        missing.append("set-up description")
    if missing:
        return Line("S9", title, NOT_MET, "Missing: " + ", ".join(missing) + ".")
    return Line(
        "S9",
        title,
        MET,
        f"{f.video_platform}; console: {f.console_sharing_method}; display meets local standards. "
        f"{f.video_setup_attestation.strip()}",
    )


def _s10(f: Facts) -> Line:
    title = "Patient privacy meets local policies"
    if f.privacy_attestation:
        return Line(
            "S10", title, MET, "Privacy attested; free text and uploads pass the PHI guard; every change is audited."
        )
    return Line("S10", title, NOT_MET, "The director has not attested privacy compliance.")


def _s11(f: Facts) -> Line:
    title = "Remote training plan reviewed by SCMR before the start"
    if not f.has_plan:
        return Line("S11", title, NOT_MET, "No remote training plan uploaded.")
    short = f"Plan SHA-256 {f.plan_sha256[:12]}…"
    if f.verification_status == "verified":
        return Line("S11", title, MET, f"{short} verified by SCMR.")
    status = {
        "draft": "not yet submitted",
        "submitted": "awaiting SCMR review",
        "changes_requested": "SCMR requested changes",
        "declined": "declined by SCMR",
    }.get(f.verification_status, f.verification_status)
    return Line("S11", title, NOT_EVIDENCED, f"{short} {status}.")


def _s12(f: Facts) -> Line:
    title = "Feedback to SCMR on the virtual program"
    if f.feedback_responses:
        return Line("S12", title, MET, f"{f.feedback_responses} feedback responses.")
    return Line("S12", title, NOT_EVIDENCED, "No feedback responses yet.")


def _s13(f: Facts) -> Line:
    title = "Interactive sessions limited to a small group per mentor"
    cap = f.interactive_group_cap
    if cap and 1 <= cap <= SMALL_GROUP_MAX:
        return Line(
            "S13", title, MET, f"At most {cap} trainees per mentor in interactive sessions; didactics uncapped."
        )
    return Line("S13", title, NOT_MET, f"Group cap {cap or 'not set'}: set 1–{SMALL_GROUP_MAX} trainees per mentor.")


def _s14(f: Facts) -> Line:
    title = "Maximum share of virtual experience set"
    share = f.max_virtual_share
    if share is not None and 0 < share < 100:
        return Line("S14", title, MET, f"At most {share}% of the experience may be virtual; the engine flags excess.")
    return Line(
        "S14",
        title,
        NOT_MET,
        "Set a maximum virtual share between 1 and 99%: a virtual program keeps an in-person component (S8, S15).",
    )


def _s15(f: Facts) -> Line:
    title = "Final determination by the program director"
    if f.final_determinations:
        return Line("S15", title, MET, f"{f.final_determinations} final determinations signed by the director.")
    return Line("S15", title, NOT_EVIDENCED, "No final determination signed yet.")


_RULES = (_s1, _s2, _s3, _s4, _s5, _s6, _s7, _s8, _s9, _s10, _s11, _s12, _s13, _s14, _s15)
LINE_CODES = tuple(f"S{i}" for i in range(1, 16))


def checklist(facts: Facts) -> list[Line]:
    return [rule(facts) for rule in _RULES]


def blocking_lines(lines: list[Line]) -> list[Line]:
    return [line for line in lines if line.blocks_submission]
