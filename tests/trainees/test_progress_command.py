"""`manage.py progress_report <enrollment id> [--json] [--ruleset ID] [--as-of DATE]`: the same Report the dashboards,
the API and the dossier use, printed for a person or as JSON."""

import datetime
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from progress.selectors.reports import report_for
from verification.dossier import build_snapshot

from ..factories import EntryFactory, VerificationRequestFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("progress_report", *[str(a) for a in args], stdout=out)
    return out.getvalue()


@pytest.fixture
def logged(enrollment, mentor):
    day = timezone.localdate() - datetime.timedelta(days=2)
    for _ in range(12):
        EntryFactory(
            enrollment=enrollment,
            supervising_mentor=mentor,
            signed=True,
            performed_on=day,
            assisted_console=True,
            case__categories=["flow"],
        )
    EntryFactory(enrollment=enrollment, supervising_mentor=mentor, submitted=True)
    return enrollment


def test_prints_every_requirement_and_what_is_missing(logged):
    out = run(logged.pk)

    assert out.startswith("Tess Trainee — Example Hybrid CMR Program\n")
    assert "SCMR Level II (independent practitioner), 2018 training guidelines (scmr-2018-level-2 v3)" in out
    # The line after the title says whether the SCMR 2021 virtual-training rules apply (Level II: they do).
    assert out.splitlines()[2] == f"  {report_for(logged).overlay_note}"
    assert "virtual-training rules apply" in out.splitlines()[2]
    assert "Complete studies interpreted with a mentor's review: 12 / 150 cases" in out
    assert "Cases performed (primary operator or assisting at the console): 12 / 50 cases" in out
    assert "Competencies that need in-person experience: 0 / 2 competencies" in out
    assert "  MET  Interactive sessions within 4 trainees per mentor: 0 / at most 0 sessions over the cap" in out
    assert "Share of cases with virtual experience" not in out  # no overall virtual-share requirement any more
    assert "missing: 138 more complete studies interpreted with a mentor's review" in out
    # 12 in person of the 50 performed, and of the 25 that must be in person.
    assert "missing: 38 more cases performed (primary operator or assisting at the console); 13 more in person" in out
    assert "missing: Curriculum topics not yet covered: MR safety" in out
    assert "missing: Sign in person: Pharmacologic stress testing" in out
    assert "1 pending" in out
    for requirement in report_for(logged).requirements:
        assert requirement.label in out


def test_json_is_valid_and_has_the_same_numbers_as_the_api(logged, trainee):
    data = json.loads(run(logged.pk, "--json"))

    client = APIClient()
    client.force_login(trainee)
    api = client.get(f"/api/v1/enrollments/{logged.pk}/progress/").json()

    assert data == api
    interpreted = next(r for r in data["requirements"] if r["key"] == "interpreted")
    assert (interpreted["achieved"], interpreted["required"], interpreted["remaining"]) == (12, 150, 138)
    assert data["pending_reviews"] == 1
    assert data["ruleset"] == "scmr-2018-level-2 v3"
    assert (data["overlay"], data["virtual_cap"], data["mentor_min_level"]) == (True, 50, "II")


def test_the_command_and_the_dossier_report_the_same_requirements(logged, director):
    vr = VerificationRequestFactory(enrollment=logged, requested_by=director)
    data = json.loads(run(logged.pk, "--json", "--as-of", timezone.localtime(vr.created_at).date().isoformat()))

    snapshot = build_snapshot(vr)

    assert snapshot["requirements"] == [{k: v for k, v in r.items() if k != "evidence"} for r in data["requirements"]]
    assert snapshot["missing"] == data["missing"]


def test_another_ruleset(logged):
    out = run(logged.pk, "--ruleset", "cbcmr-exam-eligibility")

    assert "CBCMR exam eligibility — recent CMR case experience (cbcmr-exam-eligibility v1)" in out
    assert "virtual-training rules do not apply" in out.splitlines()[2]
    assert "CMR cases in the previous 24 months: 12 / 100 cases" in out
    assert "Complete studies interpreted with a mentor's review" not in out
    assert "Competencies that need in-person experience" not in out  # no SCMR virtual overlay for another body
    data = json.loads(run(logged.pk, "--json", "--ruleset", "cbcmr-exam-eligibility"))
    assert (data["ruleset"], data["overlay"], data["virtual_cap"]) == ("cbcmr-exam-eligibility v1", False, None)


def test_another_ruleset_counts_any_signed_case(logged, mentor):
    """The CBCMR recency rule counts a signed case whatever the trainee did in it (not only interpretations)."""
    EntryFactory(
        enrollment=logged,
        supervising_mentor=mentor,
        signed=True,
        performed_on=timezone.localdate() - datetime.timedelta(days=1),
        interpreted=False,
        primary_operator=True,
    )

    assert "CMR cases in the previous 24 months: 13 / 100 cases" in run(
        logged.pk, "--ruleset", "cbcmr-exam-eligibility"
    )


@pytest.mark.parametrize(
    ("ruleset_id", "required"),
    [("scmr-2018-level-1", 50), ("scmr-2018-level-2", 150), ("scmr-2018-level-3", 300)],
)
def test_each_scmr_level(logged, ruleset_id, required):
    data = json.loads(run(logged.pk, "--json", "--ruleset", ruleset_id))
    assert next(r for r in data["requirements"] if r["key"] == "interpreted")["required"] == required


def test_as_of_an_earlier_date(logged):
    earlier = timezone.localdate() - datetime.timedelta(days=5)
    data = json.loads(run(logged.pk, "--json", "--as-of", earlier.isoformat()))

    assert data["as_of"] == earlier.isoformat()
    assert next(r for r in data["requirements"] if r["key"] == "interpreted")["achieved"] == 0


def test_the_programs_local_rules_apply(logged, program):
    program.local_rules = [{"key": "interpreted", "kind": "min_cases", "label": "Cases read", "minimum": 200}]
    program.save()

    assert "Cases read: 12 / 200 cases" in run(logged.pk)


def test_unknown_enrollment_is_a_command_error():
    with pytest.raises(CommandError, match=r"^No enrollment with id 987654\.$"):
        run(987654)


def test_unknown_ruleset_is_a_command_error(logged):
    with pytest.raises(CommandError, match=r"unknown ruleset 'scmr-2099'; known: .*scmr-2018-level-2"):
        run(logged.pk, "--ruleset", "scmr-2099")


def test_a_weaker_local_rule_is_a_command_error(logged, program):
    program.local_rules = [{"key": "interpreted", "kind": "min_cases", "label": "Cases read", "minimum": 10}]
    program.save()

    with pytest.raises(CommandError, match="weaker"):
        run(logged.pk)


@pytest.mark.parametrize("day", ["2026-13-45", "yesterday"])
def test_a_bad_date_is_a_command_error_not_a_traceback(logged, day):
    with pytest.raises(CommandError):
        run(logged.pk, "--as-of", day)


def test_a_non_numeric_enrollment_id_is_a_command_error():
    with pytest.raises(CommandError, match="invalid int value"):
        run("abc")
