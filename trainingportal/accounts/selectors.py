from .models import User


def account_exists(email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()
