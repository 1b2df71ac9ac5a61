from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from trainingportal.core.forms import add_service_errors, form_status

from . import selectors, services
from .forms import ProgramForm


@login_required
def program_list(request):
    programs = selectors.programs_for_user(request.user)
    can_create = selectors.may_create_programs(request.user)
    return render(request, "programs/program_list.html", {"programs": programs, "can_create": can_create})


@login_required
def program_create(request):
    if not selectors.may_create_programs(request.user):
        return render(request, "programs/program_create_denied.html", status=403)
    form = ProgramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{program.name} is created. Invite your mentors and trainees next.")
            return redirect("programs:detail", pk=program.pk)
    return render(request, "programs/program_form.html", {"form": form}, status=form_status(form))
