from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from trainees.selectors import active_enrollment_for_trainee, enrollments_for_user
from training.selectors import session_choices_for_trainee
from trainingportal.core.forms import add_service_errors, form_status
from trainingportal.core.idempotency import form_token, once_per_form_token

from .. import selectors, services
from ..forms import AmendForm, BatchSignForm, EntryForm, GroupReviewForm, MentorReadForm, ReviewForm
from ..models import CaseLogEntry


@login_required
def entry_list(request):
    entries = selectors.entries_for_user(request.user).order_by("-performed_on", "-id")
    status = request.GET.get("status")
    if status in services.Status.values:
        entries = entries.filter(status=status)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "statuses": services.Status.choices,
        "enrollment": active_enrollment_for_trainee(request.user),
    }
    return render(request, "cases/entry_list.html", context)


def _form_context(form, enrollment, **extra) -> dict:
    return {
        "form": form,
        "enrollment": enrollment,
        "recent_references": selectors.recent_references(enrollment),
        **extra,
    }


@login_required
@once_per_form_token
def entry_create(request):
    enrollment = active_enrollment_for_trainee(request.user)
    if enrollment is None:
        return render(request, "cases/no_enrollment.html", status=403)
    mentors = services.allowed_supervisors(enrollment)
    if not mentors.exists():
        messages.error(
            request, "Your program has no mentor yet, so there is nobody to review a case. Ask your director."
        )
        return redirect("cases:list")
    # Start from the last entry (mentor, delivery, session, source, roles), or from the entry to copy.
    initial = services.last_entry_defaults(enrollment)
    like = request.GET.get("like")
    if like and like.isdigit():
        template = selectors.get_entry_for_user(request.user, int(like), action="view").obj
        if template.enrollment_id == enrollment.pk:
            initial = EntryForm.initial_like(template)
    form = EntryForm(
        request.POST or None,
        mentors=mentors,
        stress_supervisors=services.stress_supervisors(enrollment.program),
        initial=initial,
    )
    form.fields["session"].queryset = _recent_sessions(enrollment)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.entry_create(
                actor=request.user,
                enrollment=enrollment,
                submit=request.POST.get("action") in ("submit", "submit_another"),
                **form.case_fields(),
                **form.entry_fields(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            verb = "submitted for review" if entry.status == services.Status.SUBMITTED else "saved as a draft"
            messages.success(request, f"Case {entry.case.reference} {verb}.")
            if request.POST.get("action") == "submit_another":
                return redirect(f"{request.path}?like={entry.pk}")
            return redirect("cases:detail", pk=entry.pk)
    context = {**_form_context(form, enrollment, creating=True), "form_token": form_token(request)}
    return render(request, "cases/entry_form.html", context, status=form_status(form))


def _recent_sessions(enrollment, *, keep=None):
    """The 20 latest sessions of the trainee's program (and the entry's own, if older). Not a sliced queryset: a
    form field cannot look a choice up in one, and would refuse every session."""
    sessions = session_choices_for_trainee(enrollment)
    ids = [*sessions.values_list("pk", flat=True)[:20], *([keep] if keep else [])]
    return sessions.filter(pk__in=ids)


@login_required
def entry_detail(request, pk: int):
    entry, roles = selectors.get_entry_for_user(request.user, pk, action="view")
    is_owner = "trainee" in roles
    reviewer_of = bool(roles & {"supervisor", "mentor"})
    context = {
        "entry": entry,
        "blinded": entry.read_hidden_from(request.user),
        "can_edit": entry.is_editable and is_owner,
        "can_review": entry.status == services.Status.SUBMITTED and entry.supervising_mentor_id == request.user.pk,
        "can_amend": entry.status == services.Status.SIGNED and (is_owner or reviewer_of),
        "can_copy": is_owner,
        "reads": _read_rows(entry),
        "amendments": entry.amendments.select_related("amended_by"),
        "history": selectors.entry_history(entry),
    }
    return render(request, "cases/entry_detail.html", context)


def _read_rows(entry: CaseLogEntry, *, show_mentor: bool = True) -> list[dict]:
    """Field, trainee's value, mentor's value and agreement, for the structured read."""
    rows = []
    for name in CaseLogEntry.READ_FIELDS:
        field = CaseLogEntry._meta.get_field(name)
        trainee = entry._get_FIELD_display(field) if field.choices else getattr(entry, name)
        mentor_field = CaseLogEntry._meta.get_field(f"mentor_{name}")
        mentor = entry._get_FIELD_display(mentor_field) if mentor_field.choices else getattr(entry, f"mentor_{name}")
        if trainee in (None, "") and mentor in (None, ""):
            continue
        rows.append(
            {
                "label": field.verbose_name[0].upper() + field.verbose_name[1:],
                "trainee": trainee,
                "mentor": mentor if show_mentor else None,
                "agrees": entry.agreement.get(name),
            }
        )
    return rows


@login_required
def entry_edit(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="edit").obj
    form = EntryForm(
        request.POST or None,
        initial=EntryForm.initial_for(entry),
        mentors=services.allowed_supervisors(entry.enrollment),
        stress_supervisors=services.stress_supervisors(entry.enrollment.program),
        lock_case=True,
    )
    form.fields["session"].queryset = _recent_sessions(entry.enrollment, keep=entry.session_id)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.entry_update(
                actor=request.user, entry=entry, submit=request.POST.get("action") == "submit", **form.entry_fields()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Case {entry.case.reference} updated.")
            return redirect("cases:detail", pk=entry.pk)
    return render(
        request, "cases/entry_form.html", _form_context(form, entry.enrollment, entry=entry), status=form_status(form)
    )


@login_required
@require_POST
def entry_submit(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="submit").obj
    try:
        services.entry_submit(actor=request.user, entry=entry)
        messages.success(request, f"Case {entry.case.reference} submitted to {entry.supervising_mentor}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("cases:detail", pk=entry.pk)


@login_required
def review_inbox(request):
    entries = selectors.review_inbox(request.user)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "cases/review_inbox.html", {"page": page})


@login_required
@require_POST
def review_sign_batch(request):
    """Sign the selected entries: a confirmation page listing exactly what is signed, then the signatures."""
    form = BatchSignForm(request.POST, queryset=selectors.review_inbox(request.user))
    if not form.is_valid():
        messages.error(request, "Select the entries to sign (only entries waiting for you can be signed).")
        response = review_inbox(request)
        response.status_code = 400
        return response
    entries = list(form.cleaned_data["entries"])
    if request.POST.get("confirm") != "yes":
        return render(request, "cases/review_batch_confirm.html", {"form": form, "entries": entries})
    try:
        signed, skipped = services.entries_sign_batch(
            actor=request.user, entries=entries, feedback=form.cleaned_data["mentor_feedback"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cases:inbox")
    messages.success(request, f"Signed {len(signed)} entr{'y' if len(signed) == 1 else 'ies'}.")
    for entry, reason in skipped:
        messages.warning(request, f"Not signed: {entry.case.reference} — {reason}")
    return redirect("cases:inbox")


@login_required
def entry_review(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="review").obj
    if entry.awaiting_blind_read:
        # Blind review: the mentor records their own read before the trainee's read is shown.
        read_form = MentorReadForm(request.POST or None)
        if request.method == "POST" and read_form.is_valid():
            try:
                services.entry_record_mentor_read(actor=request.user, entry=entry, **read_form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(read_form, exc, field_map={"mentor_final_diagnosis": "final_diagnosis"})
            else:
                return redirect("cases:review", pk=entry.pk)
        return render(
            request, "cases/entry_review_blind.html", {"entry": entry, "form": read_form}, status=form_status(read_form)
        )

    read_fields = [f for f in CaseLogEntry.READ_FIELDS if getattr(entry, f) not in (None, "")]
    computed = services.compare_reads(entry)
    initial = {f"agree_{name}": "yes" if ok else "no" for name, ok in computed.items()}
    form = ReviewForm(request.POST or None, read_fields=read_fields, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "return":
                services.entry_return(actor=request.user, entry=entry, reason=form.cleaned_data["returned_reason"])
                messages.success(request, f"Case {entry.case.reference} returned to {entry.enrollment.trainee}.")
            else:
                services.entry_sign(
                    actor=request.user,
                    entry=entry,
                    feedback=form.cleaned_data["mentor_feedback"],
                    agrees=form.agrees(),
                    agreement=form.agreement(),
                )
                messages.success(request, f"Case {entry.case.reference} signed.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            next_entry = selectors.review_inbox(request.user).first()
            return redirect("cases:review", pk=next_entry.pk) if next_entry else redirect("cases:inbox")
    context = {"entry": entry, "form": form, "reads": _read_rows(entry), "blind": entry.program_blind_review}
    return render(request, "cases/entry_review.html", context, status=form_status(form))


@login_required
def entry_amend(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="amend").obj
    is_owner = entry.enrollment.trainee_id == request.user.pk
    form = EntryForm(
        request.POST or None,
        initial=EntryForm.initial_for(entry),
        mentors=services.allowed_supervisors(entry.enrollment),
        stress_supervisors=services.stress_supervisors(entry.enrollment.program),
        lock_case=True,
    )
    form.fields["session"].queryset = _recent_sessions(entry.enrollment, keep=entry.session_id)
    reason_form = AmendForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and reason_form.is_valid():
        fields = {k: v for k, v in form.entry_fields().items() if k in services.AMENDABLE_FIELDS}
        try:
            entry = services.entry_amend(
                actor=request.user, entry=entry, reason=reason_form.cleaned_data["reason"], **fields
            )
        except ValidationError as exc:
            add_service_errors(form, exc, field_map={"reason": "reason"})
            if hasattr(exc, "error_dict") and "reason" in exc.error_dict:
                reason_form.add_error("reason", exc.error_dict["reason"])
        else:
            note = " It goes back to your mentor for a new signature." if is_owner else ""
            messages.success(request, f"Amendment recorded; the original is kept in the history.{note}")
            return redirect("cases:detail", pk=entry.pk)
    context = _form_context(form, entry.enrollment, entry=entry, amending=True, reason_form=reason_form)
    context["is_owner"] = is_owner
    return render(request, "cases/entry_form.html", context, status=max(form_status(form), form_status(reason_form)))


@login_required
def group_review_create(request):
    """A mentor records a case reviewed with several trainees once; each gets a draft to confirm with their read."""
    enrollments = enrollments_for_user(request.user).filter(mentors=request.user, status="active")
    if not enrollments.exists():
        raise PermissionDenied("Group reviews are recorded by mentors for the trainees they supervise.")
    form = GroupReviewForm(request.POST or None, enrollments=enrollments)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = list(data["enrollments"])
        programs = {e.program_id for e in chosen}
        if len(programs) > 1:
            form.add_error("enrollments", "Choose trainees of one program.")
        else:
            try:
                review = services.group_review_create(
                    actor=request.user,
                    program=chosen[0].program,
                    enrollments=chosen,
                    reference=data["reference"],
                    source=data["source"],
                    categories=data["categories"],
                    performed_on=data["performed_on"],
                    delivery=data["delivery"],
                    teaching_points=data["teaching_points"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Group review of {review.case.reference} recorded: {len(chosen)} trainees have a draft entry "
                    "to confirm with their own read.",
                )
                return redirect("cases:inbox")
    return render(request, "cases/group_review_form.html", {"form": form}, status=form_status(form))
