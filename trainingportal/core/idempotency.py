"""`Idempotency-Key` for API creates, and a one-time token for HTML create forms: a retry returns the first answer
and stores nothing new.

The key row is written in the same transaction as the create, so "committed but the response was lost" (a dropped
connection, a proxy timeout) is answered from the row on retry. The same key with another body is refused (422).
"""

import functools
import hashlib
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"


def _request_hash(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except TypeError:
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(row: IdempotencyKey, method_path: str, digest: str) -> Response:
    if row.method_path != method_path or row.request_hash != digest:
        return Response(
            {"detail": f"This {HEADER} was used for a different request; use a new key for a new request."},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    response = Response(row.response_body, status=row.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_create(create):
    """Decorate a DRF viewset's `create`: honours the Idempotency-Key header of an authenticated user."""

    @functools.wraps(create)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key or not request.user.is_authenticated:
            return create(self, request, *args, **kwargs)
        if len(key) > 255:
            return Response({"detail": f"{HEADER} is at most 255 characters."}, status=status.HTTP_400_BAD_REQUEST)
        method_path, digest = f"{request.method} {request.path}", _request_hash(request)
        expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        IdempotencyKey.objects.filter(user=request.user, key=key, created_at__lt=expired).delete()
        try:
            with transaction.atomic():
                # A concurrent twin waits here on the unique index until the first commits (or rolls back).
                row = IdempotencyKey.objects.create(
                    user=request.user, key=key, method_path=method_path, request_hash=digest, response_status=0
                )
                response = create(self, request, *args, **kwargs)
                if response.status_code >= 300:
                    transaction.set_rollback(True)  # only a success is remembered; a refused request may be fixed
                    return response
                row.response_status, row.response_body = response.status_code, response.data
                row.save(update_fields=["response_status", "response_body"])
                return response
        except IntegrityError:
            row = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if row is None:
                raise
            return _replay(row, method_path, digest)

    return wrapper


# --- HTML forms that create: a one-time token in a hidden field, so that a form sent twice (double click, the back
# button, a retry after a lost response) creates once; the second send is redirected to what the first created.

FORM_TOKEN_FIELD = "form_token"


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def form_token(request) -> str:
    """The token for the form being rendered: the one sent (a form shown again with errors keeps it) or a new one."""
    sent = request.POST.get(FORM_TOKEN_FIELD, "") if request.method == "POST" else ""
    return sent if 16 <= len(sent) <= 64 else new_form_token()


def once_per_form_token(view):
    """Decorate a create view (after login_required): a successful POST (a redirect) is remembered under its token,
    in the same transaction as what it created; the same token again is redirected to the first result."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token = request.POST.get(FORM_TOKEN_FIELD, "") if request.method == "POST" else ""
        if not token or not request.user.is_authenticated or len(token) > 64:
            return view(request, *args, **kwargs)
        key, method_path = f"form:{token}", f"POST {request.path}"
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    user=request.user, key=key, method_path=method_path, request_hash="", response_status=0
                )
                response = view(request, *args, **kwargs)
                if response.status_code != 302:
                    transaction.set_rollback(True)  # shown again with errors: the token stays usable
                    return response
                row.response_status, row.response_body = 302, {"location": response["Location"]}
                row.save(update_fields=["response_status", "response_body"])
                return response
        except IntegrityError:
            row = IdempotencyKey.objects.filter(user=request.user, key=key, method_path=method_path).first()
            if row is None:
                raise
            messages.info(request, "This form had already been sent; it was saved once.")
            return redirect(row.response_body["location"])

    return wrapper
