from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from progress.selectors.determinations import determination_state
from trainees.selectors import get_enrollment_for_user
from trainingportal.core.forms import add_service_errors

from .. import selectors
from ..dossier import dossier_response, snapshot_download
from ..forms import DecisionForm, RevokeForm
from ..services import dossiers as services


@login_required
@require_POST
def request_create(request, enrollment_pk: int):
    enrollment = get_enrollment_for_user(request.user, enrollment_pk, action="request_verification").obj
    try:
        vr = services.verification_request_create(actor=request.user, enrollment=enrollment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("dossiers:for_enrollment", enrollment_pk=enrollment.pk)
    messages.success(request, f"Dossier {vr.code} requested.")
    return redirect("dossiers:detail", pk=vr.pk)


@login_required
def enrollment_dossiers(request, enrollment_pk: int):
    """The dossiers of one trainee, for the trainee and the program director; the director requests a new one here."""
    enrollment, roles = get_enrollment_for_user(request.user, enrollment_pk, action="view")
    if not roles & {"director", "trainee"}:
        raise PermissionDenied("Dossiers are for the trainee and the program director.")
    context = {
        "enrollment": enrollment,
        "is_director": "director" in roles,
        "verification_requests": selectors.requests_for_enrollment(enrollment),
        **determination_state(enrollment),
    }
    return render(request, "verification/enrollment_dossiers.html", context)


@login_required
def request_detail(request, pk: int):
    vr, roles = selectors.get_verification_request_for_user(request.user, pk, action="view")
    context = {
        "vr": vr,
        "is_director": "director" in roles,
        "can_review": request.user.is_reviewer and vr.status in {"submitted", "under_review"},
        "decision_form": DecisionForm(),
        "revoke_form": RevokeForm() if request.user.is_reviewer and vr.status == "verified" else None,
        # The reviewer's drill-down: 10 signed entries drawn at random, with both reads and the agreement.
        "sample": selectors.sampled_entries(vr) if "reviewer" in roles else None,
        **_gate_context(vr),
    }
    return render(request, "verification/request_detail.html", context)


def _gate_context(vr) -> dict:
    return {"gate": selectors.dossier_gate(vr)} if vr.status not in {"queued", "generating", "failed"} else {}


@login_required
def request_status(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="view").obj
    return JsonResponse(
        {
            "status": vr.status,
            "status_display": vr.get_status_display(),
            "failure_reason": vr.failure_reason,
            "in_progress": vr.in_progress,
        }
    )


@login_required
def dossier_download(request, pk: int):
    return dossier_response(selectors.get_verification_request_for_user(request.user, pk, action="download").obj)


@login_required
def snapshot_json_download(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="download").obj
    return snapshot_download(selectors.with_snapshot(vr), "json")


@login_required
def case_log_csv_download(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="download").obj
    return snapshot_download(selectors.with_snapshot(vr), "csv")


def _transition(request, pk: int, *, action: str, service, done: str):
    """POST-only director actions on a dossier: access check, the service, a message, back to the dossier page."""
    vr = selectors.get_verification_request_for_user(request.user, pk, action=action).obj
    try:
        service(actor=request.user, vr=vr)
        messages.success(request, done)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("dossiers:detail", pk=vr.pk)


@login_required
def request_submit(request, pk: int):
    """GET: exactly what would be submitted, and what stands in the way; POST: submit (the gate is checked again)."""
    if request.method == "POST":
        return _transition(
            request,
            pk,
            action="submit",
            service=services.verification_request_submit,
            done="The dossier is submitted to SCMR for verification.",
        )
    vr = selectors.get_verification_request_for_user(request.user, pk, action="submit").obj
    gate = selectors.dossier_gate(vr)
    context = {"vr": vr, "view_gate": gate, "blockers": gate["blockers"]}
    return render(request, "verification/request_submit.html", context)


@login_required
@require_POST
def request_retry(request, pk: int):
    return _transition(
        request, pk, action="retry", service=services.verification_request_retry, done="The dossier is queued again."
    )


@login_required
def review_queue(request):
    if not request.user.is_reviewer:
        raise PermissionDenied("The verification queue is for SCMR reviewers.")
    return render(request, "verification/review_queue.html", {"queue": selectors.dossier_review_queue(request.user)})


@login_required
@require_POST
def request_decide(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="review").obj
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            services.verification_request_decide(
                actor=request.user,
                vr=vr,
                verified=form.cleaned_data["decision"] == "verified",
                reasons=form.cleaned_data["decision_reasons"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Decision recorded: {vr.get_status_display().lower()}.")
            return redirect("dossiers:queue")
    context = {"vr": vr, "can_review": True, "decision_form": form, **_gate_context(vr)}
    return render(request, "verification/request_detail.html", context, status=400)


@login_required
@require_POST
def request_revoke(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="revoke").obj
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.verification_request_revoke(actor=request.user, vr=vr, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The verification of {vr.code} is revoked.")
            return redirect("dossiers:detail", pk=vr.pk)
    context = {"vr": vr, "revoke_form": form, **_gate_context(vr)}
    return render(request, "verification/request_detail.html", context, status=400)


def verify(request, code: str):
    """Public: anyone holding a dossier can check it is genuine. Shows no PHI and nothing from the case log."""
    vr = selectors.get_verification_request_by_code(code)
    return render(request, "verification/verify.html", {"vr": vr, "has_dossier": vr.has_dossier})
