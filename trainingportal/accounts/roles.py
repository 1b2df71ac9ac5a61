from django.contrib.auth.base_user import AbstractBaseUser


def needs_mfa(user: AbstractBaseUser) -> bool:
    """Directors (of any program) and SCMR reviewers must use MFA. Cached on the user object per request."""
    cached = getattr(user, "_needs_mfa", None)
    if cached is None:
        from programs.models import Membership

        cached = bool(user.is_reviewer) or Membership.objects.filter(user=user, role=Membership.Role.DIRECTOR).exists()
        user._needs_mfa = cached
    return cached
