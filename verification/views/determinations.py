"""The director signs the final determination of one trainee (S15), re-authenticating on the page."""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from assessments.selectors import competency_board
from progress.selectors.determinations import determination_state
from progress.selectors.reports import report_for
from trainees.selectors import get_enrollment_for_user
from trainingportal.core.forms import add_service_errors, form_status

from ..forms import DeterminationForm
from ..selectors import in_person_signed_entries
from ..services.determinations import ATTESTATION, determination_sign


@login_required
def determination(request, enrollment_pk: int):
    enrollment = get_enrollment_for_user(request.user, enrollment_pk, action="manage").obj
    needs_code = Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists()
    entries = in_person_signed_entries(enrollment)
    form = DeterminationForm(request.POST if request.method == "POST" else None, entries=entries, needs_code=needs_code)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            determination_sign(
                actor=request.user,
                enrollment=enrollment,
                decision=data["decision"],
                statement=data["statement"],
                password=data["password"],
                otp_code=data.get("otp_code", ""),
                in_person_component=data["in_person_component"],
                in_person_assessed_on=data["in_person_assessed_on"],
                in_person_entry=int(data["in_person_entry"]) if data["in_person_entry"] else None,
                attest=data["attest"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The final determination is signed.")
            return redirect("dossiers:for_enrollment", enrollment_pk=enrollment.pk)
    board = competency_board(enrollment)
    context = {
        "enrollment": enrollment,
        "form": form,
        "report": report_for(enrollment),
        "attestation": ATTESTATION,
        "competencies": board,
        "open_competencies": [item for item in board if item["status"] not in ("signed", "prior_experience")],
        **determination_state(enrollment),
    }
    return render(request, "verification/determination.html", context, status=form_status(form))
