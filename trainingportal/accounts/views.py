from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from trainingportal.core.audit import log_action
from trainingportal.core.forms import add_service_errors

from .forms import CredentialForm
from .services import credential_add


@login_required
def api_token(request):
    """Show the user's API token for scripts; POST creates or replaces it (the old one stops working)."""
    token = Token.objects.filter(user=request.user).first()
    if request.method == "POST":
        if token:
            token.delete()
        token = Token.objects.create(user=request.user)
        log_action(actor=request.user, action="api_token.rotate", obj=request.user)
        messages.success(request, "A new API token is ready. The previous one no longer works.")
        return redirect("accounts:api_token")
    return render(request, "accounts/api_token.html", {"token": token})


@login_required
def credentials(request):
    """The user's CMR credentials: a ruleset counts an entry only when its signer holds at least its mentor level."""
    form = CredentialForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = credential_add(actor=request.user, data=form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Recorded: {credential}.")
            return redirect("accounts:credentials")
    status = 400 if form.is_bound else 200
    context = {"form": form, "credentials": request.user.credentials.all()}
    return render(request, "accounts/credentials.html", context, status=status)
