from django.utils.functional import SimpleLazyObject

from .selectors import user_roles_anywhere


def navigation(request):
    """Which menu entries to show. One query, only when a template asks: the user's roles across programs."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_roles": SimpleLazyObject(lambda: _RoleSet(user_roles_anywhere(user)))}


class _RoleSet(set):
    """A set that templates can ask `nav_roles.mentor` of."""

    def __getattr__(self, name):
        return name in self
