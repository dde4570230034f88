"""Demo sign-ins: one user per role on demo data, each with a fresh random password.

Only demo data gets logins made for it; anywhere else users are created one by one with a
password their owner chooses, and no default password exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from crm_core.auth.passwords import hash_password
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.entities import Team, User
from crm_core.services import audit
from crm_core.services.users import create_user
from crm_core.unit_of_work import UnitOfWork

DEMO_DOMAIN = "crm-intel.example"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    password: str


def _password() -> str:
    return secrets.token_urlsafe(15)


DEMO_SETUP = Principal.system(Role.ADMIN, "demo data set-up")


def create_demo_logins(uow: UnitOfWork, *, now: datetime) -> list[DemoLogin]:
    """Give the first demo rep a password and add the other roles; the caller commits."""
    first_team = uow.session.scalar(select(Team.name).order_by(Team.id))
    logins: list[DemoLogin] = []
    rep = uow.session.scalar(select(User).where(User.role == Role.SALES_REP.value).order_by(User.id))
    if rep is not None:
        password = _password()
        rep.password_hash = hash_password(password)
        audit.record(
            uow,
            DEMO_SETUP,
            action="user.set_password",
            entity="user",
            entity_id=rep.id,
            changed_fields=["password_hash"],
            at=now,
        )
        logins.append(DemoLogin(rep.email, rep.role, password))
    for role in Role:
        if role is Role.SALES_REP and rep is not None:
            continue
        password = _password()
        user = create_user(
            uow,
            DEMO_SETUP,
            email=f"{role.value.replace('_', '.')}@{DEMO_DOMAIN}",
            full_name=f"Demo {role.value.replace('_', ' ')}",
            role=role.value,
            password=password,
            now=now,
            team_name=first_team if role in (Role.SALES_MANAGER, Role.SALES_REP) else None,
        )
        logins.append(DemoLogin(user.email, user.role, password))
    return logins
