from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from trainees.selectors import enrollments_for_user, get_enrollment_for_user, program_enrollments
from trainingportal.core.forms import add_service_errors

from . import selectors, services
from .forms import AssignMentorForm, InvitationForm, InvitationSignUpForm, ProgramForm
from .models import Membership


@login_required
def program_list(request):
    programs = selectors.programs_for_user(request.user)
    return render(request, "programs/program_list.html", {"programs": programs})


@login_required
def program_create(request):
    form = ProgramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{program.name} is created. Invite your mentors and trainees next.")
            return redirect("programs:detail", pk=program.pk)
    return render(request, "programs/program_form.html", {"form": form})


@login_required
def program_detail(request, pk: int):
    program = selectors.get_program_for_user(request.user, pk, action="view")
    is_director = Membership.Role.DIRECTOR in program.viewer_roles
    is_mentor = Membership.Role.MENTOR in program.viewer_roles
    enrollments = program_enrollments(program)
    if not (is_director or request.user.is_reviewer):
        # Mentors see the trainees they supervise; trainees see only themselves.
        visible = enrollments_for_user(request.user).filter(program=program).values("pk")
        enrollments = enrollments.filter(pk__in=visible)
    mentors = selectors.program_mentors(program)
    context = {
        "program": program,
        "is_director": is_director,
        "is_mentor": is_mentor,
        "enrollments": enrollments,
        "members": selectors.program_members(program) if is_director else None,
        "invitations": selectors.open_invitations(program) if is_director else None,
        "invite_form": InvitationForm(mentors=mentors) if is_director else None,
        "assign_form": AssignMentorForm(mentors=mentors) if is_director else None,
    }
    return render(request, "programs/program_detail.html", context)


@login_required
@require_POST
def invitation_create(request, pk: int):
    program = selectors.get_program_for_user(request.user, pk, action="manage")
    form = InvitationForm(request.POST, mentors=selectors.program_mentors(program))
    if form.is_valid():
        try:
            invitation = services.invitation_create(actor=request.user, program=program, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("programs:detail", pk=program.pk)
    enrollments = program_enrollments(program)
    return render(
        request,
        "programs/program_detail.html",
        {
            "program": program,
            "is_director": True,
            "enrollments": enrollments,
            "members": selectors.program_members(program),
            "invitations": selectors.open_invitations(program),
            "invite_form": form,
            "assign_form": AssignMentorForm(mentors=selectors.program_mentors(program)),
        },
        status=400,
    )


@login_required
@require_POST
def enrollment_assign_mentor(request, pk: int, enrollment_pk: int):
    program = selectors.get_program_for_user(request.user, pk, action="manage")
    enrollment = get_enrollment_for_user(request.user, enrollment_pk, action="manage")
    if enrollment.program_id != program.pk:
        raise PermissionDenied
    form = AssignMentorForm(request.POST, mentors=selectors.program_mentors(program))
    if form.is_valid():
        from trainees.services import enrollment_assign_mentor as assign

        try:
            assign(actor=request.user, enrollment=enrollment, mentor=form.cleaned_data["mentor"])
            messages.success(request, f"{form.cleaned_data['mentor']} now supervises {enrollment.trainee}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose a mentor of this program.")
    return redirect("programs:detail", pk=program.pk)


def invitation_accept(request, token: str):
    invitation = selectors.get_invitation_by_token(token)
    problem = services.invitation_problem(invitation)
    context = {"invitation": invitation, "problem": problem}
    if problem:
        return render(request, "programs/invitation_accept.html", context, status=410)
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as exc:
                context["problem"] = " ".join(exc.messages)
                return render(request, "programs/invitation_accept.html", context, status=400)
            messages.success(request, f"Welcome to {invitation.program.name}.")
            return redirect("home")
        return render(request, "programs/invitation_accept.html", context)

    from django.contrib.auth import get_user_model

    if get_user_model().objects.filter(email__iexact=invitation.email).exists():
        context["existing_account"] = True
        return render(request, "programs/invitation_accept.html", context)
    form = InvitationSignUpForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_sign_up(
                invitation=invitation, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Your account is ready. Welcome to {invitation.program.name}.")
            return redirect("home")
    context["form"] = form
    return render(request, "programs/invitation_accept.html", context)


@login_required
def program_dashboard(request, pk: int):
    """Every trainee of the program against their ruleset (mentors: the trainees they supervise)."""
    from trainees.progress import dashboard_rows
    from trainingportal.core import charts

    from . import dashboard

    program = selectors.get_program_for_user(request.user, pk, action="dashboard")
    enrollments = selectors.dashboard_enrollments(
        program,
        user=request.user,
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
        "is_director": Membership.Role.DIRECTOR in program.viewer_roles,
    }
    return render(request, "programs/program_dashboard.html", context)
