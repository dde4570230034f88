"""Sign-in and tokens: the use cases behind authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, select

from crm_core.auth.passwords import verify_password
from crm_core.auth.policy import Action
from crm_core.auth.principal import ALL_SCOPES, Principal
from crm_core.auth.tokens import new_token, token_digest
from crm_core.entities import ApiToken, LoginAttempt, User
from crm_core.errors import (
    AuthenticationError,
    ForbiddenError,
    LoginThrottledError,
    NotFoundError,
    ValidationFailedError,
)
from crm_core.normalise import normalise_email
from crm_core.services import audit
from crm_core.services.login_throttle import SlotLimit, claim_slots, give_back_slots
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

SESSION = "session"
INTEGRATION = "integration"


@dataclass(frozen=True)
class IssuedToken:
    """The plaintext token exists only here: it is shown once and stored as a digest."""

    token: str
    token_id: int
    expires_at: datetime | None
    principal: Principal


class UserColumns(Protocol):
    """What a principal is built from: a `User` entity or the sign-in query's plain row."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def email(self) -> str: ...


def principal_of(user: UserColumns, scopes: frozenset[str] = ALL_SCOPES) -> Principal:
    return Principal(user_id=user.id, role=user.role, team_id=user.team_id, label=user.email, scopes=scopes)


def _issue(
    uow: UnitOfWork, user: User, *, kind: str, name: str, scopes: list[str], now: datetime, expires_at: datetime | None
) -> IssuedToken:
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=token_digest(token),
        scopes=scopes,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
    )
    uow.session.add(row)
    uow.session.flush()
    return IssuedToken(token, row.id, expires_at, principal_of(user, frozenset(scopes)))


def sign_in_limits(settings: CoreSettings, address: str, client: str | None) -> list[SlotLimit]:
    limits = [SlotLimit(f"account:{address}", settings.login_max_failures)]
    if client:
        limits.append(SlotLimit(f"client:{client}", settings.login_client_max_failures))
    return limits


def login(
    uow: UnitOfWork,
    settings: CoreSettings,
    *,
    email: str,
    password: str,
    now: datetime,
    client: str | None = None,
) -> IssuedToken:
    """Exchange a password for a session token; commits, so failed attempts are remembered.

    Each attempt first claims a slot for the account and for the client address (committed
    before the password is checked, so parallel guesses cannot all slip under the limit). Past
    `login_max_failures` for the account, or `login_client_max_failures` for the client, within
    the window, even the right password is refused until the window has passed.
    """
    address = normalise_email(email)
    limits = sign_in_limits(settings, address, client)
    window = timedelta(minutes=settings.login_window_minutes)
    retry_after = claim_slots(uow, limits, now=now, window=window)
    if retry_after is not None:
        raise LoginThrottledError(retry_after)
    user = uow.session.scalar(select(User).where(User.email == address))
    valid = verify_password(user.password_hash if user else None, password) and user is not None and user.is_active
    uow.session.add(LoginAttempt(email=address, at=now, succeeded=valid))
    if not valid or user is None:
        anonymous = Principal(user_id=None, role="anonymous", label=address)
        audit.record(uow, anonymous, action="login.failed", entity="user", details={"email": address}, at=now)
        uow.commit()
        raise AuthenticationError("wrong email or password")
    give_back_slots(uow, limits)
    issued = _issue(
        uow,
        user,
        kind=SESSION,
        name="login",
        scopes=["*"],
        now=now,
        expires_at=now + timedelta(hours=settings.session_hours),
    )
    audit.record(uow, issued.principal, action="login", entity="user", entity_id=user.id, at=now)
    uow.commit()
    return issued


_TOKEN_AND_USER = (
    select(
        ApiToken.revoked_at,
        ApiToken.expires_at,
        ApiToken.scopes,
        User.id,
        User.role,
        User.team_id,
        User.email,
        User.is_active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"))
)


def authenticate(uow: UnitOfWork, token: str, *, now: datetime) -> Principal:
    """The principal a bearer token stands for. Every request runs this, so it is one prebuilt,
    indexed query for the token and its user together, returning plain columns (no ORM objects)."""
    # Through the session, not its connection: a revocation made earlier in this unit of work
    # is flushed before the token is looked up.
    row = uow.session.execute(_TOKEN_AND_USER, {"digest": token_digest(token)}).one_or_none()
    if (
        row is None
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or not row.is_active
    ):
        raise AuthenticationError("invalid, expired or revoked token")
    return principal_of(row, frozenset(row.scopes))


def create_integration_token(
    uow: UnitOfWork,
    principal: Principal,
    settings: CoreSettings,
    *,
    name: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime,
) -> IssuedToken:
    """A named token for an integration, limited to `scopes` (each "entity:action").

    A token never widens what made it: its scopes are a subset of the creating token's, so a
    token scoped to `api_token:create` cannot mint a `*` one. Every token expires, no later than
    `token_max_days` from now, so a leaked one dies on its own.
    """
    principal.require("api_token", Action.CREATE)
    if principal.user_id is None:
        raise ValidationFailedError("user", "system principals cannot own tokens")
    for scope in scopes:
        entity, _, action = scope.partition(":")
        if scope != "*" and (action not in {a.value for a in Action} or not entity):
            raise ValidationFailedError("scopes", f"'{scope}' is not '*' or 'entity:action'")
    if "*" not in principal.scopes:
        wider = sorted(set(scopes) - principal.scopes)
        if wider:
            raise ForbiddenError(f"a token cannot grant scopes its creator lacks: {', '.join(wider)}")
    if expires_at <= now:
        raise ValidationFailedError("expires_at", "is in the past")
    latest = now + timedelta(days=settings.token_max_days)
    if expires_at > latest:
        raise ValidationFailedError("expires_at", f"is more than {settings.token_max_days} days ahead")
    user = uow.session.get(User, principal.user_id)
    if user is None:
        raise NotFoundError("user", principal.user_id)
    issued = _issue(uow, user, kind=INTEGRATION, name=name, scopes=scopes, now=now, expires_at=expires_at)
    audit.record(
        uow,
        principal,
        action="api_token.create",
        entity="api_token",
        entity_id=issued.token_id,
        details={"name": name, "scopes": scopes, "expires_at": expires_at.isoformat()},
        at=now,
    )
    return issued


def list_tokens(uow: UnitOfWork, principal: Principal, *, limit: int) -> list[ApiToken]:
    """The caller's own tokens, newest first: sessions and integration tokens, live or not, so a
    person can see what acts in their name and revoke it. Secrets are never stored, so never shown."""
    principal.require("api_token", Action.READ)
    if principal.user_id is None:
        return []
    query = select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id.desc()).limit(limit)
    return list(uow.session.scalars(query))


def revoke_token(uow: UnitOfWork, principal: Principal, token_id: int, *, now: datetime) -> None:
    row = uow.session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError("api_token", token_id)
    principal.require_record("api_token", Action.DELETE, token_id, owner_id=row.user_id, owner_team_id=None)
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(
            uow,
            principal,
            action="api_token.revoke",
            entity="api_token",
            entity_id=token_id,
            changed_fields=["revoked_at"],
            at=now,
        )


def sign_out(uow: UnitOfWork, token: str, *, now: datetime) -> None:
    """End a browser session: its token stops working at once (a stolen cookie dies with it)."""
    row = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or row.kind != SESSION:
        return
    row.revoked_at = now
    user = uow.session.get(User, row.user_id)
    if user is not None:
        audit.record(uow, principal_of(user), action="logout", entity="user", entity_id=user.id, at=now)
