from typing import Any

from django.db import models

from .models import AuditEvent


def log_action(*, actor, action: str, obj: models.Model, before: Any = None, after: Any = None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
    )
