from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from programs.forms import InvitationSignUpForm
from programs.selectors import get_invitation_by_token
from programs.services import invitation_problem
from trainingportal.accounts.selectors import account_exists
from trainingportal.core.forms import add_service_errors

from . import services


def invitation_accept(request, token: str):
    invitation = get_invitation_by_token(token)
    problem = invitation_problem(invitation)
    context = {"invitation": invitation, "problem": problem}
    if problem:
        return render(request, "programs/invitation_accept.html", context, status=410)
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as exc:
                context["problem"] = " ".join(exc.messages)
                return render(request, "programs/invitation_accept.html", context, status=400)
            messages.success(request, f"Welcome to {invitation.program.name}.")
            return redirect("home")
        return render(request, "programs/invitation_accept.html", context)

    if account_exists(invitation.email):
        context["existing_account"] = True
        return render(request, "programs/invitation_accept.html", context)
    form = InvitationSignUpForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_sign_up(
                invitation=invitation, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Your account is ready. Welcome to {invitation.program.name}.")
            return redirect("home")
    context["form"] = form
    return render(request, "programs/invitation_accept.html", context)
