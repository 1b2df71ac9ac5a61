from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from assessments.selectors import requests_for_enrollment

from .progress import gather_facts, level2_progress
from .selectors import enrollment_roles, get_enrollment_for_user


@login_required
def enrollment_progress(request, pk: int):
    enrollment = get_enrollment_for_user(request.user, pk, action="view")
    facts = gather_facts(enrollment)
    roles = enrollment_roles(request.user, enrollment)
    context = {
        "enrollment": enrollment,
        "facts": facts,
        "requirements": level2_progress(facts, today=timezone.localdate()),
        "roles": roles,
        "is_director": "director" in roles,
        "verification_requests": requests_for_enrollment(enrollment) if roles & {"director", "trainee"} else [],
        "mentors": enrollment.mentors.all(),
    }
    return render(request, "trainees/enrollment_progress.html", context)
