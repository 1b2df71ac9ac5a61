"""The home page: what each role should do next. It gathers from every app, so it sits with the project's wiring
(urls.py), above all of them, and reads only through their selectors."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from cases.selectors import review_inbox
from programs.selectors import may_create_programs, programs_for_user
from progress.selectors.reports import report_for
from trainees.selectors import active_enrollment_for_trainee
from verification.selectors import dossier_review_queue


def home(request):
    if not request.user.is_authenticated:
        return render(request, "core/landing.html")
    return dashboard(request)


@login_required
def dashboard(request):
    user = request.user
    enrollment = active_enrollment_for_trainee(user)
    context = {
        "programs": programs_for_user(user)[:20] if not user.is_reviewer else None,
        "enrollment": enrollment,
        "report": report_for(enrollment) if enrollment else None,
        "inbox_count": review_inbox(user).count(),
        "queue_count": dossier_review_queue(user).count() if user.is_reviewer else None,
        "can_create_programs": may_create_programs(user),
    }
    if not (enrollment or context["programs"] or user.is_reviewer):
        context["empty"] = True
    return render(request, "core/dashboard.html", context)
