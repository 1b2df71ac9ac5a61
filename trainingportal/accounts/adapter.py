from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Open sign-up exists so that invited people can register; roles come only from invitations.
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)
