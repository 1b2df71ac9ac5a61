from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from assessments.selectors import in_person_items, requests_for_enrollment
from trainingportal.core import charts

from .engine import RulesetError, evaluate, get_ruleset, list_rulesets, merge_local_rules
from .engine.evaluate import cumulative_points
from .facts import gather_facts
from .progress import ruleset_for
from .selectors import get_enrollment_for_user


@login_required
def enrollment_progress(request, pk: int):
    """The trainee dashboard: every requirement, what is missing, the pace, the charts."""
    enrollment = get_enrollment_for_user(request.user, pk, action="view")
    today = timezone.localdate()
    facts = gather_facts(enrollment)
    ruleset = ruleset_for(enrollment)
    other = request.GET.get("ruleset")
    if other and other != enrollment.ruleset:
        # One log, several rulebooks: evaluate against another ruleset, for information only.
        try:
            ruleset = merge_local_rules(get_ruleset(other), enrollment.program.local_rules)
        except RulesetError:
            other = None
    report = evaluate(facts, ruleset, today=today)
    primary = next((r for r in ruleset.rules if r.kind == "min_cases"), None)
    chart = None
    if primary:
        result = report.requirement(primary.key)
        chart = charts.cumulative_chart(
            cumulative_points(facts, ruleset, primary.key, today=today),
            target=int(result.required),
            start=enrollment.start_date,
            end=max(filter(None, [today, report.expected_end, result.forecast])),
            forecast=result.forecast,
            title=f"{result.label}: cumulative",
        )
    coverage = next((r for r in report.requirements if r.kind == "category_coverage"), None)
    curriculum = facts.curriculum
    roles = enrollment.viewer_roles
    context = {
        "enrollment": enrollment,
        "facts": facts,
        "report": report,
        "ruleset": ruleset,
        "rulesets": list_rulesets(),
        "chosen_ruleset": other or enrollment.ruleset,
        "chart": chart,
        "share_chart": charts.share_bar(
            virtual=report.virtual_count,
            in_person=report.in_person_count,
            cap_percent=enrollment.program.max_virtual_share,
        ),
        "coverage": [(name, coverage.detail["counts"].get(slug, 0)) for slug, name in curriculum] if coverage else None,
        "coverage_minimum": coverage.detail["minimum"] if coverage else 1,
        "roles": roles,
        "is_director": "director" in roles,
        "verification_requests": requests_for_enrollment(enrollment) if roles & {"director", "trainee"} else [],
        "mentors": enrollment.mentors.all(),
        "in_person_items": in_person_items(enrollment),
    }
    return render(request, "trainees/enrollment_progress.html", context)
