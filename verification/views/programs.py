"""Program verification pages: the director's profile + checklist, the SCMR reviewer's queue and review page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from programs.selectors import director_qualification
from programs.services import EDITABLE_STATUSES, program_profile_update
from trainingportal.core.forms import add_service_errors

from .. import compliance, selectors
from ..forms import ProgramProfileForm, ReviewDecisionForm
from ..services import programs as verification

PLAN_FIELD_MAP = {"remote_training_plan": "plan"}


def _checklist_context(program) -> dict:
    lines = selectors.program_checklist(program)
    review = selectors.current_review(program)
    return {
        "program": program,
        "lines": lines,
        "blocking": compliance.blocking_lines(lines),
        "review": review,
        "line_comments": review.comments if review else {},
        "history": selectors.program_history(program),
    }


@login_required
def profile(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="profile").obj
    credential = director_qualification(program)
    editable = program.verification_status in EDITABLE_STATUSES
    form = ProgramProfileForm(request.POST or None, request.FILES or None, instance=program, credential=credential)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                program_profile_update(actor=request.user, program=program, **form.service_kwargs())
            except ValidationError as exc:
                add_service_errors(form, exc, field_map=PLAN_FIELD_MAP)
            else:
                messages.success(request, "The program profile is saved.")
                return redirect("verification:profile", pk=program.pk)
        status = 400
    context = {**_checklist_context(program), "form": form, "credential": credential, "editable": editable}
    return render(request, "verification/profile_edit.html", context, status=status)


@login_required
@require_POST
def submit(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="submit").obj
    try:
        verification.program_submit(actor=request.user, program=program)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Submitted to SCMR. You will get an e-mail at each step of the review.")
    return redirect("verification:profile", pk=program.pk)


@login_required
def plan(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="plan").obj
    if not program.remote_training_plan:
        raise Http404("No remote training plan uploaded.")
    response = FileResponse(
        program.remote_training_plan.open("rb"),
        content_type="application/pdf",
        filename=f"remote-training-plan-{program.pk}.pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def queue(request):
    reviews = selectors.program_review_queue(request.user)
    return render(request, "verification/verification_queue.html", {"reviews": reviews})


@login_required
def review(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="review").obj
    return _render_review(request, program, ReviewDecisionForm())


def _render_review(request, program, form, status=200):
    context = {
        **_checklist_context(program),
        "form": form,
        "credential": director_qualification(program),
    }
    context["is_mine"] = context["review"] is not None and context["review"].reviewer_id == request.user.pk
    return render(request, "verification/verification_review.html", context, status=status)


@login_required
@require_POST
def take(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="review").obj
    try:
        verification.review_take(actor=request.user, program=program)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"You are reviewing {program.name}.")
    return redirect("verification:review", pk=program.pk)


@login_required
@require_POST
def decide(request, pk: int):
    program = selectors.get_program_for_review(request.user, pk, action="review").obj
    form = ReviewDecisionForm(request.POST)
    if form.is_valid():
        try:
            verification.review_decide(
                actor=request.user,
                program=program,
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
                line_comments=form.line_comments(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc, field_map={f"{c}": f"line_{c}" for c in compliance.LINE_CODES})
        else:
            program.refresh_from_db(fields=["verification_status"])
            messages.success(request, f"{program.name}: {program.get_verification_status_display()}.")
            return redirect("verification:review", pk=program.pk)
    return _render_review(request, program, form, status=400)
