"""Attacks on sign-in: parallel guesses past the lockout, and one client rotating emails."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import LoginAttempt
from crm_core.errors import AuthenticationError, LoginThrottledError
from crm_core.services.identity import login
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 1, 9, 0)
PASSWORD = "correct horse battery staple"
SETTINGS = CoreSettings(login_max_failures=5, login_client_max_failures=8, login_window_minutes=15)
PARALLEL = 40


def _make_user(engine: Engine, email: str) -> None:
    with UnitOfWork(make_session_factory(engine)) as uow:
        operator = Principal.system(Role.ADMIN, "tests")
        create_user(uow, operator, email=email, full_name="V", role="sales_rep", password=PASSWORD, now=NOW)
        uow.commit()


def _attempt(engine: Engine, email: str, password: str, client: str, barrier: threading.Barrier) -> str:
    barrier.wait()
    with UnitOfWork(make_session_factory(engine)) as uow:
        try:
            login(uow, SETTINGS, email=email, password=password, now=NOW, client=client)
        except LoginThrottledError:
            return "throttled"
        except AuthenticationError:
            return "checked"
        return "signed in"


def _checked_passwords(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(LoginAttempt)).scalar_one())


def test_forty_parallel_guesses_get_five_password_checks(engine: Engine) -> None:
    _make_user(engine, "victim@x.test")
    barrier = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(
            pool.map(
                lambda n: _attempt(engine, "victim@x.test", f"guess number {n:04}", f"10.0.0.{n}", barrier),
                range(PARALLEL),
            )
        )
    assert outcomes.count("checked") == SETTINGS.login_max_failures
    assert outcomes.count("throttled") == PARALLEL - SETTINGS.login_max_failures
    assert _checked_passwords(engine) == SETTINGS.login_max_failures, "a LoginAttempt row is one Argon2 check"
    with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(LoginThrottledError) as refused:
        login(uow, SETTINGS, email="victim@x.test", password=PASSWORD, now=NOW + timedelta(minutes=1), client="x")
    assert 0 < refused.value.retry_after_seconds <= 14 * 60
    with UnitOfWork(make_session_factory(engine)) as uow:
        later = NOW + timedelta(minutes=15, seconds=1)
        assert login(uow, SETTINGS, email="victim@x.test", password=PASSWORD, now=later, client="x").token


def test_one_client_rotating_emails_is_throttled_before_argon2(engine: Engine) -> None:
    barrier = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(
            pool.map(
                lambda n: _attempt(engine, f"nobody{n}@x.test", "any password at all", "203.0.113.9", barrier),
                range(PARALLEL),
            )
        )
    assert outcomes.count("checked") == SETTINGS.login_client_max_failures
    assert _checked_passwords(engine) == SETTINGS.login_client_max_failures
    # Another client is not held back by this one.
    _make_user(engine, "real@x.test")
    with UnitOfWork(make_session_factory(engine)) as uow:
        assert login(uow, SETTINGS, email="real@x.test", password=PASSWORD, now=NOW, client="198.51.100.1").token


def test_successful_sign_ins_do_not_fill_the_window(engine: Engine) -> None:
    _make_user(engine, "busy@x.test")
    for minute in range(SETTINGS.login_max_failures * 3):
        with UnitOfWork(make_session_factory(engine)) as uow:
            at = NOW + timedelta(seconds=minute)
            assert login(uow, SETTINGS, email="busy@x.test", password=PASSWORD, now=at, client="10.1.1.1").token
