from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import Engine, func, select

from crm_core.auth.passwords import WeakPasswordError, hash_password, verify_password
from crm_core.auth.policy import Action, Role, Scope
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import ApiToken, LoginAttempt
from crm_core.errors import AuthenticationError, ForbiddenError, LoginThrottledError, ValidationFailedError
from crm_core.services.identity import authenticate, create_integration_token, login, revoke_token
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 1, 9, 0)
PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")
SETTINGS = CoreSettings(login_max_failures=3, login_window_minutes=10, session_hours=8)
IN_A_MONTH = NOW + timedelta(days=30)


@pytest.fixture
def uow(engine: Engine) -> Iterator[UnitOfWork]:
    with UnitOfWork(make_session_factory(engine)) as unit:
        create_user(
            unit, OPERATOR, email=" Rep@Example.COM ", full_name="Rep", role="sales_rep", password=PASSWORD, now=NOW
        )
        unit.commit()
        yield unit


def test_the_product_hashes_at_rfc_9106s_recommended_cost(production_password_hasher: PasswordHasher) -> None:
    # the suite hashes at a lower cost (see conftest); what users get is this
    hasher = production_password_hasher
    assert (hasher.type, hasher.time_cost, hasher.memory_cost) == (Type.ID, 3, 64 * 1024)
    assert hasher.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,")


def test_passwords_are_argon2id_and_never_stored_in_clear() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(WeakPasswordError, match="12 characters"):
        hash_password("short")


def test_login_issues_a_session_that_expires(uow: UnitOfWork) -> None:
    issued = login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW)
    assert issued.expires_at == NOW + timedelta(hours=8)
    principal = authenticate(uow, issued.token, now=NOW + timedelta(hours=7))
    assert (principal.role, principal.label) == ("sales_rep", "rep@example.com")
    with pytest.raises(AuthenticationError):
        authenticate(uow, issued.token, now=NOW + timedelta(hours=8))
    stored = uow.session.scalars(select(ApiToken.token_hash)).all()
    assert issued.token not in stored, "only the digest is kept"


def test_failed_logins_are_throttled_per_account(uow: UnitOfWork) -> None:
    for minute in range(3):
        with pytest.raises(AuthenticationError):
            login(
                uow, SETTINGS, email="rep@example.com", password="wrong password!", now=NOW + timedelta(minutes=minute)
            )
    with pytest.raises(LoginThrottledError) as throttled:
        login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW + timedelta(minutes=3))
    assert 0 < throttled.value.retry_after_seconds <= 7 * 60
    # Once the window has passed, the right password works again.
    assert login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW + timedelta(minutes=11)).token
    failures = uow.session.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.succeeded.is_(False))
    )
    assert failures == 3


def test_unknown_users_and_inactive_users_cannot_log_in(uow: UnitOfWork) -> None:
    with pytest.raises(AuthenticationError, match="wrong email or password"):
        login(uow, SETTINGS, email="nobody@example.com", password=PASSWORD, now=NOW)
    create_user(uow, OPERATOR, email="nopass@example.com", full_name="N", role="marketer", password=None, now=NOW)
    with pytest.raises(AuthenticationError):
        login(uow, SETTINGS, email="nopass@example.com", password="", now=NOW)


def test_integration_tokens_are_scoped_and_revocable(uow: UnitOfWork) -> None:
    session = login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW)
    issued = create_integration_token(
        uow, session.principal, SETTINGS, name="dialer", scopes=["contact:read"], now=NOW, expires_at=IN_A_MONTH
    )
    uow.commit()
    principal = authenticate(uow, issued.token, now=NOW)
    assert principal.scope("contact", Action.READ) is Scope.OWN
    assert principal.scope("prediction", Action.CREATE) is Scope.NONE, "the token narrows the role"
    with pytest.raises(ForbiddenError):
        principal.require("prediction", Action.CREATE)
    revoke_token(uow, session.principal, issued.token_id, now=NOW)
    with pytest.raises(AuthenticationError):
        authenticate(uow, issued.token, now=NOW)
    with pytest.raises(ValidationFailedError, match="scopes"):
        create_integration_token(
            uow, session.principal, SETTINGS, name="bad", scopes=["contact:fly"], now=NOW, expires_at=IN_A_MONTH
        )


def test_a_token_never_mints_a_wider_token(uow: UnitOfWork) -> None:
    """The attack: a token scoped to `api_token:create` minted a `["*"]` token."""
    session = login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW)
    narrow = create_integration_token(
        uow,
        session.principal,
        SETTINGS,
        name="minter",
        scopes=["api_token:create", "contact:read"],
        now=NOW,
        expires_at=IN_A_MONTH,
    )
    uow.commit()
    minter = authenticate(uow, narrow.token, now=NOW)
    for wider in (["*"], ["contact:update"], ["contact:read", "deal:read"]):
        with pytest.raises(ForbiddenError, match="scopes its creator lacks"):
            create_integration_token(
                uow, minter, SETTINGS, name="escalate", scopes=wider, now=NOW, expires_at=IN_A_MONTH
            )
    same = create_integration_token(
        uow, minter, SETTINGS, name="child", scopes=["contact:read"], now=NOW, expires_at=IN_A_MONTH
    )
    assert authenticate(uow, same.token, now=NOW).scopes == frozenset({"contact:read"})


def test_every_token_expires_within_the_bound(uow: UnitOfWork) -> None:
    session = login(uow, SETTINGS, email="rep@example.com", password=PASSWORD, now=NOW)
    for past in (NOW, NOW - timedelta(seconds=1), NOW - timedelta(days=400)):
        with pytest.raises(ValidationFailedError, match="in the past"):
            create_integration_token(
                uow, session.principal, SETTINGS, name="old", scopes=["contact:read"], now=NOW, expires_at=past
            )
    too_far = NOW + timedelta(days=SETTINGS.token_max_days, seconds=1)
    with pytest.raises(ValidationFailedError, match="days ahead"):
        create_integration_token(
            uow, session.principal, SETTINGS, name="forever", scopes=["contact:read"], now=NOW, expires_at=too_far
        )
    longest = create_integration_token(
        uow,
        session.principal,
        SETTINGS,
        name="year",
        scopes=["contact:read"],
        now=NOW,
        expires_at=NOW + timedelta(days=SETTINGS.token_max_days),
    )
    assert longest.expires_at == NOW + timedelta(days=SETTINGS.token_max_days)
    with pytest.raises(AuthenticationError):
        authenticate(uow, longest.token, now=NOW + timedelta(days=SETTINGS.token_max_days))


def test_users_need_a_known_role_and_a_unique_email(uow: UnitOfWork) -> None:
    with pytest.raises(ValidationFailedError, match="'wizard' is not one of"):
        create_user(uow, OPERATOR, email="w@example.com", full_name="W", role="wizard", password=PASSWORD, now=NOW)
    with pytest.raises(ValidationFailedError, match="already a user"):
        create_user(uow, OPERATOR, email="REP@example.com", full_name="R", role="sales_rep", password=PASSWORD, now=NOW)
