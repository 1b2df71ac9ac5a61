"""Competency sign-offs: the trainee's board of the framework's competencies, and the sign-off page where the
mentor or the director signs one off or amends a sign-off with a reason."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from trainees.selectors import get_enrollment_for_user
from trainingportal.core.forms import add_service_errors
from trainingportal.core.idempotency import form_token, once_per_form_token

from . import selectors, services
from .forms import ENTRY_CHOICES_LIMIT, SignOffForm
from .framework import current_framework

ASSESSORS = {"mentor", "director"}


@login_required
def competencies(request, pk: int):
    enrollment, roles = get_enrollment_for_user(request.user, pk, action="view")
    framework = current_framework()
    board = selectors.competency_board(enrollment)
    context = {
        "enrollment": enrollment,
        "framework": framework,
        "board": board,
        "signed_count": sum(1 for item in board if item["status"] in ("signed", "prior_experience")),
        "can_assess": bool(roles & ASSESSORS) and enrollment.trainee_id != request.user.pk,
    }
    return render(request, "assessments/competencies.html", context)


@login_required
@once_per_form_token
def sign_off(request, pk: int, code: str):
    """GET: the competency, its sign-off and history; the form for an assessor. POST: sign off, or amend."""
    enrollment, roles = get_enrollment_for_user(
        request.user, pk, action="assess" if request.method == "POST" else "view"
    )
    competency = selectors.current_competencies().filter(code=code).first()
    if competency is None:
        raise Http404("No such competency.")
    framework = current_framework()
    current = selectors.sign_off_detail(enrollment, competency)
    can_assess = bool(roles & ASSESSORS) and enrollment.trainee_id != request.user.pk
    if request.method == "POST" and not can_assess:
        raise PermissionDenied("Trainees do not sign off their own competencies.")
    form = None
    status = 200
    if can_assess:
        entries, sessions = selectors.evidence_choices(enrollment, competency, limit=ENTRY_CHOICES_LIMIT)
        initial = {"signed_on": timezone.localdate()}
        if current is not None:
            initial = {
                "signed_on": current.signed_on,
                "delivery": current.delivery,
                "entrustment_level": current.entrustment_level,
                "evidence_entries": [e.pk for e in current.evidence_entries.all()],
                "evidence_sessions": [s.pk for s in current.evidence_sessions.all()],
                "note": current.note,
            }
        form = SignOffForm(
            request.POST if request.method == "POST" else None,
            initial=initial,
            framework=framework,
            competency=competency,
            entries=entries,
            sessions=sessions,
            amending=current is not None,
        )
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                values = {
                    "actor": request.user,
                    "signed_on": data["signed_on"],
                    "delivery": data["delivery"],
                    "entrustment_level": data["entrustment_level"],
                    "entry_ids": data["evidence_entries"],
                    "session_ids": data["evidence_sessions"],
                    "note": data["note"],
                }
                try:
                    if current is None:
                        services.sign_off_create(enrollment=enrollment, competency_code=competency.code, **values)
                    else:
                        services.sign_off_amend(sign_off=current, reason=data["reason"], **values)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    verb = "signed off" if current is None else "amended"
                    messages.success(request, f"{competency.title}: {verb} for {enrollment.trainee}.")
                    return redirect("trainees:competencies", pk=enrollment.pk)
            status = 400
    context = {
        "enrollment": enrollment,
        "framework": framework,
        "competency": competency,
        "citation": framework.citation(competency.source),
        "sign_off": current,
        "entrusted": current is not None and current.entrustment_level >= framework.sign_off_level,
        "level_label": framework.level_label(current.entrustment_level) if current else "",
        "amendments": selectors.sign_off_amendments(current) if current else [],
        "form": form,
        "form_token": form_token(request),
    }
    return render(request, "assessments/sign_off.html", context, status=status)
