"""User accounts: creation, administration and teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, select

from crm_core.auth.passwords import hash_password
from crm_core.auth.policy import Action, Role, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import ApiToken, Team, User
from crm_core.errors import NotFoundError, ValidationFailedError
from crm_core.normalise import normalise_email
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork


def create_user(
    uow: UnitOfWork,
    actor: Principal,
    *,
    email: str,
    full_name: str,
    role: str,
    password: str | None,
    now: datetime,
    team_name: str | None = None,
) -> User:
    """A new user; without a password the account exists but cannot log in."""
    actor.require("user", Action.CREATE)
    if role not in {r.value for r in Role}:
        raise ValidationFailedError("role", f"'{role}' is not one of {', '.join(r.value for r in Role)}")
    address = normalise_email(email)
    if "@" not in address:
        raise ValidationFailedError("email", f"'{email}' is not an email address")
    if uow.session.scalar(select(User.id).where(User.email == address)) is not None:
        raise ValidationFailedError("email", f"'{address}' is already a user")
    team_id = _team_id(uow, team_name)
    user = User(
        email=address,
        full_name=full_name,
        role=role,
        team_id=team_id,
        password_hash=hash_password(password) if password is not None else None,
        is_active=True,
        created_at=now,
    )
    uow.session.add(user)
    uow.session.flush()
    audit.record(
        uow,
        actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        changed_fields=["email", "full_name", "role", "team_id", "password_hash"],
        details={"role": role},
        at=now,
    )
    return user


def _team_id(uow: UnitOfWork, team_name: str | None) -> int | None:
    """The id of the named team, created on first use."""
    if not team_name:
        return None
    team = uow.session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        team = Team(name=team_name)
        uow.session.add(team)
        uow.session.flush()
    return team.id


def list_users(uow: UnitOfWork, principal: Principal) -> list[User]:
    """Admins see every user, managers their team."""
    scope = principal.require("user", Action.READ)
    query = select(User).order_by(User.id)
    if scope is not Scope.ALL:
        query = query.where(User.team_id == principal.team_id) if principal.team_id else query.where(false())
    return list(uow.session.scalars(query))


def update_user(
    uow: UnitOfWork,
    principal: Principal,
    user_id: int,
    *,
    changes: dict[str, object],
    now: datetime,
) -> User:
    """Change a user's name, role, team or active flag; a role change is audited as such.

    Deactivating a user also revokes every token they hold, so access ends at once.
    """
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    principal.require_record("user", Action.UPDATE, user_id, owner_id=None, owner_team_id=None)
    if user.id == principal.user_id and ("role" in changes or changes.get("is_active") is False):
        raise ValidationFailedError("role", "you cannot change your own role or deactivate yourself")
    values = dict(changes)
    if "team" in values:
        team = values.pop("team")
        values["team_id"] = _team_id(uow, team if isinstance(team, str) else None)
    changed = [name for name, value in values.items() if getattr(user, name) != value]
    previous_role = user.role
    for name in changed:
        setattr(user, name, values[name])
    if user.is_active is False and "is_active" in changed:
        for token in uow.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = now
    if changed:
        uow.session.flush()
        action = "user.role_change" if "role" in changed else "user.update"
        details = {"from": previous_role, "to": user.role} if "role" in changed else {}
        audit.record(
            uow,
            principal,
            action=action,
            entity="user",
            entity_id=user.id,
            changed_fields=changed,
            details=details,
            at=now,
        )
    return user
