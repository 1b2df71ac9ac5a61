from django.db import models

from .models import Credential, User

# Highest first, as engine.facts.LEVEL_RANK ranks them.
_ORDER = {"EQ": 3, "AP": 4, "III": 5, "II": 2, "I": 1}


def account_exists(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def best_levels(user_ids) -> dict[int, str]:
    """{user id: the highest CMR level on record} for the given users; users without a credential are absent."""
    best: dict[int, str] = {}
    for user_id, level in Credential.objects.filter(user_id__in=set(user_ids)).values_list("user_id", "level"):
        if user_id not in best or _ORDER[level] > _ORDER[best[user_id]]:
            best[user_id] = level
    return best


def credentialed_at(levels) -> "models.QuerySet":
    """User ids holding a credential of one of `levels` (for a subquery)."""
    return Credential.objects.filter(level__in=list(levels)).values("user_id")
