"""Progress of enrollments against their rulesets: the one place that turns enrollments into engine Reports.

The trainee dashboard, the director dashboard, the API, the management command and the dossier all come here.
"""

from collections.abc import Sequence
from datetime import date

from django.utils import timezone

from trainees.models import Enrollment
from trainingportal.engine import Report, Ruleset, evaluate, get_ruleset, merge_local_rules
from trainingportal.engine.evaluate import cumulative_points

from .facts import gather_facts_for, gather_tallied_facts_for


def ruleset_for(enrollment: Enrollment, ruleset: Ruleset | None = None) -> Ruleset:
    """The enrollment's ruleset version with its program's stricter local rules (or another `ruleset`), and the SCMR 2021
    virtual overlay when the ruleset carries it (Level II) or the program opted in for every level."""
    program = enrollment.program
    if ruleset is None:  # another rulebook is read as it is: the program's local rules are written for its own
        ruleset = merge_local_rules(get_ruleset(enrollment.ruleset), program.local_rules)
    return ruleset.with_overlay() if program.virtual_overlay_all_levels else ruleset


def reports_for(enrollments: Sequence[Enrollment], *, today: date | None = None) -> dict[int, Report]:
    today = today or timezone.localdate()
    facts = gather_facts_for(enrollments)
    return {e.pk: evaluate(facts[e.pk], ruleset_for(e), today=today) for e in enrollments}


def report_for(enrollment: Enrollment, *, today: date | None = None) -> Report:
    return reports_for([enrollment], today=today)[enrollment.pk]


def progress_with_chart_data(enrollment: Enrollment, *, today: date | None = None, ruleset: Ruleset | None = None):
    """The report plus what the trainee dashboard and the dossier draw: facts and the cumulative series of the first
    case rule. `ruleset`: another rulebook to read the same log against (default: the enrollment's own)."""
    today = today or timezone.localdate()
    facts = gather_facts_for([enrollment])[enrollment.pk]
    ruleset = ruleset_for(enrollment, ruleset)
    report = evaluate(facts, ruleset, today=today)
    primary = next((r for r in ruleset.rules if r.kind == "min_cases"), None)
    points = cumulative_points(facts, ruleset, primary.key, today=today) if primary else []
    return report, facts, ruleset, primary, points


def dashboard_rows(enrollments: Sequence[Enrollment], *, today: date | None = None) -> list[tuple]:
    """(enrollment, report) for the director's table: entries counted by the database, not read one by one."""
    today = today or timezone.localdate()
    rulesets = {e.pk: ruleset_for(e) for e in enrollments}
    facts = gather_tallied_facts_for(enrollments, rulesets, today=today)
    return [(e, evaluate(facts[e.pk], rulesets[e.pk], today=today)) for e in enrollments]
