from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from progress.selectors.determinations import determination_state
from trainees.selectors import get_enrollment_for_user
from trainingportal.core.forms import add_service_errors
from trainingportal.core.idempotency import new_form_token, once_per_form_token

from .. import selectors
from ..dossier import dossier_response, snapshot_download
from ..filters import ReviewQueueFilter
from ..forms import DecisionForm, ReviewNoteForm, RevokeForm
from ..services import dossiers as services
from ..services import notes as note_services

QUEUE_PAGE_SIZE = 25


@login_required
@require_POST
@once_per_form_token
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
        "form_token": new_form_token(),  # the request form is sent once, however often it is clicked
        **determination_state(enrollment),
    }
    return render(request, "verification/enrollment_dossiers.html", context)


@login_required
def request_detail(request, pk: int):
    access = selectors.get_verification_request_for_user(request.user, pk, action="view")
    return render(request, "verification/request_detail.html", _detail_context(request.user, access))


def _detail_context(user, access, **forms) -> dict:
    """The dossier page for whoever may see it: the reviewer's parts (sample, notes, history, decision) only for an
    SCMR reviewer without a conflict of interest. `forms` replaces a blank form with one submitted with errors."""
    vr, roles = access
    is_reviewer = "reviewer" in roles
    context = {
        "vr": vr,
        "is_director": "director" in roles,
        "is_reviewer": is_reviewer,
        "can_take": is_reviewer and vr.status == "submitted",
        # Once a reviewer has taken it, the decision is theirs (the service refuses anyone else too).
        "can_review": is_reviewer
        and (vr.status == "submitted" or (vr.status == "under_review" and vr.reviewer_id in (None, user.pk))),
        "decision_form": DecisionForm(),
        "revoke_form": RevokeForm() if is_reviewer and vr.status == "verified" else None,
        "note_form": ReviewNoteForm() if is_reviewer else None,
        # The reviewer's drill-down: 10 signed entries drawn at random, with both reads and the agreement.
        "sample": selectors.sampled_entries(vr) if is_reviewer else None,
        "notes": selectors.review_notes(access),
        "history": selectors.dossier_history(access),
        **_gate_context(vr),
    }
    context.update(forms)
    return context


def _gate_context(vr) -> dict:
    return {"gate": selectors.dossier_gate(vr)} if vr.status not in {"queued", "generating", "failed"} else {}


def _seconds(start, end) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


@login_required
def request_status(request, pk: int):
    """Polled by the dossier page (static/js/dossier-status.js) while the job runs: the phase and how long it has
    taken, measured on the server's clock (queued -> generating -> ready, or failed)."""
    vr = selectors.get_verification_request_for_user(request.user, pk, action="view").obj
    now = timezone.now()
    generating = vr.status == vr.Status.GENERATING
    end = vr.ready_at if vr.has_dossier and vr.ready_at else now
    return JsonResponse(
        {
            "status": vr.status,
            "status_display": vr.get_status_display(),
            "failure_reason": vr.failure_reason,
            "in_progress": vr.in_progress,
            "attempts": vr.attempts,
            # Since the director asked for it; frozen once the PDF is ready.
            "elapsed_seconds": _seconds(vr.created_at, end),
            # How long the job waited for a worker (None while it still waits), and how long rendering has run.
            "queued_seconds": None if vr.status == vr.Status.QUEUED else _seconds(vr.created_at, vr.started_at),
            "generating_seconds": _seconds(vr.started_at, now) if generating else None,
            "render_seconds": round(vr.render_ms / 1000, 1) if vr.render_ms is not None else None,
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
    """SCMR reviewers' dossiers, oldest submission first, filtered in the database, 25 a page."""
    if not request.user.is_reviewer:
        raise PermissionDenied("The verification queue is for SCMR reviewers.")
    filters = ReviewQueueFilter(request.GET, queryset=selectors.dossier_review_queue(request.user), request=request)
    page = Paginator(filters.qs, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filters": filters, "page": page, "query": query.urlencode(), "filtered": bool(query)}
    return render(request, "verification/review_queue.html", context)


@login_required
@require_POST
def request_take(request, pk: int):
    vr = selectors.get_verification_request_for_user(request.user, pk, action="take").obj
    try:
        services.verification_request_take(actor=request.user, vr=vr)
        messages.success(request, f"Dossier {vr.code} is yours to review; the program director is told.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("dossiers:detail", pk=vr.pk)


@login_required
@require_POST
def request_note_add(request, pk: int):
    access = selectors.get_verification_request_for_user(request.user, pk, action="notes")
    form = ReviewNoteForm(request.POST)
    if form.is_valid():
        try:
            note_services.review_note_add(actor=request.user, vr=access.obj, text=form.cleaned_data["text"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Note added.")
            return redirect("dossiers:detail", pk=access.obj.pk)
    return render(
        request, "verification/request_detail.html", _detail_context(request.user, access, note_form=form), status=400
    )


@login_required
@require_POST
def request_decide(request, pk: int):
    access = selectors.get_verification_request_for_user(request.user, pk, action="review")
    vr = access.obj
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
    return render(
        request,
        "verification/request_detail.html",
        _detail_context(request.user, access, decision_form=form),
        status=400,
    )


@login_required
@require_POST
def request_revoke(request, pk: int):
    access = selectors.get_verification_request_for_user(request.user, pk, action="revoke")
    vr = access.obj
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.verification_request_revoke(actor=request.user, vr=vr, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The verification of {vr.code} is revoked.")
            return redirect("dossiers:detail", pk=vr.pk)
    return render(
        request, "verification/request_detail.html", _detail_context(request.user, access, revoke_form=form), status=400
    )


def verify(request, code: str):
    """Public: anyone holding a dossier can check it is genuine. Shows no PHI and nothing from the case log."""
    vr = selectors.get_verification_request_by_code(code)
    return render(request, "verification/verify.html", {"vr": vr, "has_dossier": vr.has_dossier})
