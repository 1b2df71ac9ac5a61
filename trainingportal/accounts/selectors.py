from trainingportal.engine.facts import LEVEL_RANK

from .models import Credential, User


def account_exists(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def best_levels(user_ids) -> dict[int, str]:
    """{user id: the highest CMR level on record} for the given users; users without a credential are absent."""
    best: dict[int, str] = {}
    for user_id, level in Credential.objects.filter(user_id__in=set(user_ids)).values_list("user_id", "level"):
        if user_id not in best or LEVEL_RANK[level] > LEVEL_RANK[best[user_id]]:
            best[user_id] = level
    return best
