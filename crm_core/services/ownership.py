"""Who may be made the owner of a record: within the caller's reach, and a real user."""

from __future__ import annotations

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import User
from crm_core.errors import ValidationFailedError
from crm_core.unit_of_work import UnitOfWork


def resolve_owner(
    uow: UnitOfWork, principal: Principal, entity: str, action: Action, owner_id: int | None
) -> int | None:
    """The owner a new or reassigned record gets; defaults to the caller.

    A rep can only own records themselves, a manager can assign within their team, an admin to
    anyone; an owner outside that reach is refused with the field named.
    """
    scope = principal.require(entity, action)
    wanted = owner_id if owner_id is not None else principal.user_id
    if wanted is None:
        return None
    owner = uow.session.get(User, wanted)
    if owner is None or not owner.is_active:
        raise ValidationFailedError("owner_id", f"{wanted} is not an active user")
    allowed = (
        scope is Scope.ALL
        or (scope is Scope.TEAM and principal.team_id is not None and owner.team_id == principal.team_id)
        or wanted == principal.user_id
    )
    if not allowed:
        raise ValidationFailedError("owner_id", f"{wanted} is outside the records you may assign")
    return wanted
