"""Engine construction: the embedded SQLite default tuned for concurrent use, or PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from crm_core import request_lifetime
from crm_core.sqlite_gate import install_write_gate

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) run while a batch write-back commits; foreign keys are off by
    # default in SQLite and a CRM without them quietly accumulates orphans.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten with zeros, not left in free pages: an erased person's
    # name and texts must not be readable from the file afterwards.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str, *, statement_timeout_seconds: float | None = None) -> Engine:
    """Create an engine for `url`, applying the SQLite pragmas when the URL is SQLite.

    With `statement_timeout_seconds` (the server's engine: every web and API query), a statement
    running longer is stopped by the database itself: PostgreSQL's `statement_timeout`, and on
    SQLite a progress handler that interrupts it. Such a statement raises `OperationalError`,
    which `is_statement_timeout` recognises; batch jobs open engines without a limit.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        install_write_gate(engine, SQLITE_BUSY_TIMEOUT_MS / 1000)
        if statement_timeout_seconds is not None:
            _limit_sqlite_statements(engine, statement_timeout_seconds)
        return engine
    options = {}
    if statement_timeout_seconds is not None:
        options["options"] = f"-c statement_timeout={max(1, round(statement_timeout_seconds * 1000))}"
    engine = create_engine(url, pool_pre_ping=True, connect_args=options)
    if statement_timeout_seconds is not None:
        _cancel_statements_of_abandoned_requests(engine)
    return engine


def _cancel_statements_of_abandoned_requests(engine: Engine) -> None:
    """Each statement run for a request is registered with it while it runs, so a client that
    disconnects has it cancelled (PostgreSQL then raises "canceling statement due to user
    request"), instead of it running on to the statement limit for nobody."""

    def _started(connection: Any, *_args: Any) -> None:
        lifetime = request_lifetime.current()
        if lifetime is not None:
            lifetime.statement_started(connection.connection.dbapi_connection)

    def _ended(connection: Any, *_args: Any) -> None:
        lifetime = request_lifetime.current()
        if lifetime is not None:
            lifetime.statement_ended(connection.connection.dbapi_connection)

    def _failed(context: Any) -> None:
        lifetime = request_lifetime.current()
        if lifetime is not None and context.connection is not None:
            lifetime.statement_ended(context.connection.connection.dbapi_connection)

    event.listen(engine, "before_cursor_execute", _started)
    event.listen(engine, "after_cursor_execute", _ended)
    event.listen(engine, "handle_error", _failed)


# How many SQLite virtual-machine steps pass between clock checks: often enough to stop within
# milliseconds of the limit, rarely enough to cost nothing measurable.
_PROGRESS_STEPS = 10_000


def _limit_sqlite_statements(engine: Engine, seconds: float) -> None:
    """SQLite has no statement timeout: a progress handler, armed when each statement starts,
    interrupts it past the limit, or once its request is abandoned (sqlite3 then raises
    OperationalError "interrupted")."""

    @event.listens_for(engine, "connect")
    def _install(dbapi_connection: Any, record: Any) -> None:
        deadline = [float("inf")]
        dbapi_connection.set_progress_handler(
            lambda: int(time.monotonic() > deadline[0] or request_lifetime.abandoned()), _PROGRESS_STEPS
        )
        record.info[_DEADLINE] = deadline

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(connection: Any, *_args: Any) -> None:
        deadline = connection.connection.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = time.monotonic() + seconds


_DEADLINE = "crm_statement_deadline"


def is_statement_timeout(error: BaseException) -> bool:
    """True for a statement the server's engine stopped (either database): past the limit
    `make_engine` set, or because its request was abandoned (then nobody reads the answer)."""
    original = getattr(error, "orig", None)
    text = str(original or error).lower()
    return (
        "interrupted" in text
        or "canceling statement due to statement timeout" in text
        or "canceling statement due to user request" in text
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
