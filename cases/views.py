from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from trainees.selectors import active_enrollment_for_trainee
from trainingportal.core.forms import add_service_errors

from . import selectors, services
from .forms import EntryForm, ReviewForm


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


@login_required
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
    form = EntryForm(request.POST or None, mentors=mentors)
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
                return redirect("cases:create")
            return redirect("cases:detail", pk=entry.pk)
    return render(request, "cases/entry_form.html", {"form": form, "enrollment": enrollment, "creating": True})


@login_required
def entry_detail(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="view")
    context = {
        "entry": entry,
        "can_edit": entry.is_editable and entry.enrollment.trainee_id == request.user.pk,
        "can_review": entry.status == services.Status.SUBMITTED and entry.supervising_mentor_id == request.user.pk,
    }
    return render(request, "cases/entry_detail.html", context)


@login_required
def entry_edit(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="edit")
    form = EntryForm(
        request.POST or None,
        initial=EntryForm.initial_for(entry),
        mentors=services.allowed_supervisors(entry.enrollment),
        lock_case=True,
    )
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
    return render(request, "cases/entry_form.html", {"form": form, "entry": entry, "enrollment": entry.enrollment})


@login_required
@require_POST
def entry_submit(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="submit")
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
def entry_review(request, pk: int):
    entry = selectors.get_entry_for_user(request.user, pk, action="review")
    form = ReviewForm(request.POST or None)
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
                )
                messages.success(request, f"Case {entry.case.reference} signed.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            next_entry = selectors.review_inbox(request.user).first()
            return redirect("cases:review", pk=next_entry.pk) if next_entry else redirect("cases:inbox")
    return render(request, "cases/entry_review.html", {"entry": entry, "form": form})
