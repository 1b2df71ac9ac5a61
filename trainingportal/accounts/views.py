from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from trainingportal.core.audit import log_action


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
