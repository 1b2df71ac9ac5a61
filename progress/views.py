"""Where trainees stand: the trainee dashboard, the program page with its trainees, and the director dashboard.

The program page lives here, not in programs/, because it shows each trainee's signed and waiting entries (the case
log sits below this layer and above programs)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from assessments import services as assessment_services
from assessments.selectors import in_person_items
from cases.selectors import agreement_summary, entry_counts_by_enrollment
from programs import selectors as program_selectors
from programs import services as program_services
from programs.forms import AssignMentorForm, InvitationForm
from trainees import services as trainee_services
from trainees.selectors import (
    dashboard_enrollments,
    enrollment_in_program,
    enrollments_for_user,
    get_enrollment_for_user,
    program_enrollments,
)
from trainingportal.core import charts
from trainingportal.core.forms import add_service_errors
from trainingportal.engine import RulesetError, get_ruleset, list_rulesets

from . import dashboard
from .forms import PriorExperienceForm, VirtualShareForm
from .selectors.reports import dashboard_rows, progress_with_chart_data

Role = program_selectors.Role


@login_required
def enrollment_progress(request, pk: int):
    """The trainee dashboard: every requirement, what is missing, the pace, the charts."""
    enrollment, roles = get_enrollment_for_user(request.user, pk, action="view")
    return _progress_page(request, enrollment, roles)


def _progress_page(request, enrollment, roles, *, share_form=None, prior_form=None, status=200):
    today = timezone.localdate()
    ruleset = None
    other = request.GET.get("ruleset")
    if other and other != enrollment.ruleset:
        # One log, several rulebooks: evaluate against another ruleset, for information only.
        try:
            ruleset = get_ruleset(other)  # as it is: the program's local rules are written for its own ruleset
        except RulesetError:
            other = None
    report, facts, ruleset, primary, points = progress_with_chart_data(enrollment, today=today, ruleset=ruleset)
    chart = None
    if primary:
        result = report.requirement(primary.key)
        chart = charts.cumulative_chart(
            points,
            target=int(result.required),
            start=enrollment.start_date,
            end=max(filter(None, [today, report.expected_end, result.forecast])),
            forecast=result.forecast,
            title=f"{result.label}: cumulative",
        )
    coverage = next((r for r in report.requirements if r.kind == "category_coverage"), None)
    items = in_person_items(enrollment)
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
            cap_percent=report.virtual_cap,
        ),
        "coverage": (
            [(name, coverage.detail["counts"].get(slug, 0)) for slug, name in facts.curriculum] if coverage else None
        ),
        "coverage_minimum": coverage.detail["minimum"] if coverage else 1,
        "roles": roles,
        "is_director": "director" in roles,
        "shows_dossiers": bool(roles & {"director", "trainee"}),
        "mentors": enrollment.mentors.all(),
        "in_person_items": items,
        "agreement": agreement_summary(enrollment),
        "can_assess": bool(roles & {"mentor", "director"}),
    }
    if context["can_assess"]:
        open_items = [
            item["competency"] for item in items if item["status"] in ("not_yet", "virtual_only", "in_progress")
        ]
        context["share_form"] = share_form or VirtualShareForm(
            program_cap=enrollment.program.max_virtual_share,
            initial={"share": enrollment.max_virtual_share, "reason": enrollment.max_virtual_share_reason},
        )
        context["prior_form"] = prior_form or (PriorExperienceForm(competencies=open_items) if open_items else None)
    return render(request, "progress/enrollment_progress.html", context, status=status)


@login_required
@require_POST
def enrollment_virtual_share(request, pk: int):
    """The mentor lowers (or restores) the trainee's virtual share."""
    enrollment, roles = get_enrollment_for_user(request.user, pk, action="assess")
    form = VirtualShareForm(request.POST, program_cap=enrollment.program.max_virtual_share)
    if form.is_valid():
        try:
            trainee_services.set_trainee_virtual_share(
                actor=request.user,
                enrollment=enrollment,
                share=form.cleaned_data["share"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            share = form.cleaned_data["share"]
            messages.success(
                request,
                f"{enrollment.trainee}'s virtual share is now at most {share}%."
                if share is not None
                else f"{enrollment.trainee} now has the program's virtual share.",
            )
            return redirect("trainees:progress", pk=enrollment.pk)
    return _progress_page(request, enrollment, roles, share_form=form, status=400)


@login_required
@require_POST
def enrollment_prior_experience(request, pk: int):
    """The mentor records that the trainee's prior experience covers an in-person competency."""
    enrollment, roles = get_enrollment_for_user(request.user, pk, action="assess")
    competencies = [item["competency"] for item in in_person_items(enrollment)]
    form = PriorExperienceForm(request.POST, competencies=competencies)
    if form.is_valid():
        try:
            record = assessment_services.record_prior_experience(
                actor=request.user,
                enrollment=enrollment,
                competency_code=form.cleaned_data["competency"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Prior experience recorded for {record.competency.title}.")
            return redirect("trainees:progress", pk=enrollment.pk)
    return _progress_page(request, enrollment, roles, prior_form=form, status=400)


def _program_page(request, program, roles, *, invite_form=None, status=200):
    is_director = Role.DIRECTOR in roles
    enrollments = program_enrollments(program)
    if not is_director:
        # Mentors see the trainees they supervise; trainees see only themselves.
        enrollments = enrollments.filter(pk__in=enrollments_for_user(request.user).filter(program=program).values("pk"))
    enrollments = list(enrollments)
    counts = entry_counts_by_enrollment([e.pk for e in enrollments])
    mentors = program_selectors.program_mentors(program)
    context = {
        "program": program,
        "is_director": is_director,
        "is_mentor": Role.MENTOR in roles,
        "enrollments": [(e, counts.get(e.pk, {})) for e in enrollments],
        "members": program_selectors.program_members(program) if is_director else None,
        "invitations": program_selectors.open_invitations(program) if is_director else None,
        "invite_form": (invite_form or InvitationForm(mentors=mentors)) if is_director else None,
        "assign_form": AssignMentorForm(mentors=mentors) if is_director else None,
    }
    return render(request, "programs/program_detail.html", context, status=status)


@login_required
def program_detail(request, pk: int):
    program, roles = program_selectors.get_program_for_user(request.user, pk, action="view")
    return _program_page(request, program, roles)


@login_required
@require_POST
def invitation_create(request, pk: int):
    program, roles = program_selectors.get_program_for_user(request.user, pk, action="manage")
    form = InvitationForm(request.POST, mentors=program_selectors.program_mentors(program))
    if form.is_valid():
        try:
            invitation = program_services.invitation_create(actor=request.user, program=program, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("programs:detail", pk=program.pk)
    return _program_page(request, program, roles, invite_form=form, status=400)


@login_required
@require_POST
def enrollment_assign_mentor(request, pk: int, enrollment_pk: int):
    program, roles = program_selectors.get_program_for_user(request.user, pk, action="manage")
    enrollment = enrollment_in_program(request.user, program, enrollment_pk, action="manage")
    form = AssignMentorForm(request.POST, mentors=program_selectors.program_mentors(program))
    if form.is_valid():
        try:
            trainee_services.enrollment_assign_mentor(
                actor=request.user, enrollment=enrollment, mentor=form.cleaned_data["mentor"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{form.cleaned_data['mentor']} now supervises {enrollment.trainee}.")
            return redirect("programs:detail", pk=program.pk)
    else:
        messages.error(request, f"Choose a mentor of this program for {enrollment.trainee}.")
    return _program_page(request, program, roles, status=400)


@login_required
def program_dashboard(request, pk: int):
    """Every trainee of the program against their ruleset (mentors: the trainees they supervise)."""
    program, roles = program_selectors.get_program_for_user(request.user, pk, action="dashboard")
    enrollments = dashboard_enrollments(
        program,
        user=request.user,
        roles=roles,
        status=request.GET.get("status", "active"),
        query=request.GET.get("q", "").strip(),
    )
    rows = [dashboard.Row(e, report) for e, report in dashboard_rows(enrollments)]
    columns = dashboard.columns_for(rows)
    flag = request.GET.get("flag") or None
    sort = request.GET.get("sort", "name")
    rows = dashboard.filter_and_sort(rows, flag=flag, sort=sort)
    if request.GET.get("format") == "csv":
        return dashboard.csv_response(program, rows, columns)
    for row in rows:
        row.sparkline = charts.sparkline(list(row.report.weekly))
        row.cells = [row.cell(key) for key, _ in columns]
    params = request.GET.copy()
    params.pop("sort", None)
    context = {
        "program": program,
        "rows": rows,
        "columns": columns,
        "flag": flag,
        "flags": dashboard.FLAG_LABELS,
        "sort": sort,
        "status": request.GET.get("status", "active"),
        "query": request.GET.get("q", ""),
        "base_query": params.urlencode(),
        "csv_query": (params.urlencode() + "&" if params else "") + f"sort={sort}&format=csv",
        "is_director": Role.DIRECTOR in roles,
    }
    return render(request, "progress/program_dashboard.html", context)
