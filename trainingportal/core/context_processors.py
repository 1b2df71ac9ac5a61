def navigation(request):
    """Which menu entries to show. One query: the user's roles across programs."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def roles():
        from programs.models import Membership

        return set(Membership.objects.filter(user=user).values_list("role", flat=True).distinct())

    from django.utils.functional import SimpleLazyObject

    return {"nav_roles": SimpleLazyObject(lambda: _RoleSet(roles()))}


class _RoleSet(set):
    """A set that templates can ask `nav_roles.mentor` of."""

    def __getattr__(self, name):
        return name in self
