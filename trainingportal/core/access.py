"""What every access function returns: the object together with what the actor is to it (as healthchecks'
`_get_check_for_user` returns the check and whether the user may write). Nothing is stashed on the instance."""

from typing import NamedTuple


class Access[T](NamedTuple):
    obj: T
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))
