"""Who is acting: the authenticated caller every service call is checked against."""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.auth.policy import Action, Role, Scope, scope_of
from crm_core.errors import ForbiddenError, NotFoundError

ALL_SCOPES = frozenset({"*"})


@dataclass(frozen=True)
class Principal:
    """`scopes` narrow what a token may do below its role ("*": everything the role may);
    an integration token for write-back might carry only {"prediction:create"}."""

    user_id: int | None
    role: str
    team_id: int | None = None
    label: str = ""
    scopes: frozenset[str] = ALL_SCOPES
    request_id: str | None = None

    @classmethod
    def system(cls, role: Role, label: str) -> Principal:
        """A trusted in-process caller (a CLI job run by an operator), not a signed-in user."""
        return cls(user_id=None, role=role.value, label=label)

    def scope(self, entity: str, action: Action) -> Scope:
        if "*" not in self.scopes and f"{entity}:{action.value}" not in self.scopes:
            return Scope.NONE
        return scope_of(self.role, entity, action)

    def require(self, entity: str, action: Action) -> Scope:
        """The granted scope, or ForbiddenError when the role may never do this."""
        scope = self.scope(entity, action)
        if scope is Scope.NONE:
            raise ForbiddenError(f"role '{self.role}' may not {action.value} {entity} records")
        return scope

    def require_record(
        self,
        entity: str,
        action: Action,
        record_id: object,
        owner_id: int | None,
        owner_team_id: int | None,
    ) -> None:
        """Allow, or answer as if the record did not exist: other people's records are 404."""
        scope = self.require(entity, action)
        if scope is Scope.ALL:
            return
        if scope is Scope.TEAM and self.team_id is not None and owner_team_id == self.team_id:
            return
        if scope >= Scope.OWN and self.user_id is not None and owner_id == self.user_id:
            return
        raise NotFoundError(entity, record_id)
