"""A request's lifetime, as the database sees it: a query run for a request whose client has
gone is stopped rather than left to finish for nobody.

The edge (crm_core.api.abandoned) opens a lifetime per request and marks it abandoned when the
client disconnects; the server's engine (crm_core.db) checks it from SQLite's progress handler
and, on PostgreSQL, registers each running statement's connection so it can be cancelled.
A context variable carries it from the request's task into the worker threads that run the
route, so no signature in between changes.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

_current: ContextVar[RequestLifetime | None] = ContextVar("crm_request_lifetime", default=None)


class RequestLifetime:
    def __init__(self) -> None:
        self._gone = threading.Event()
        self._lock = threading.Lock()
        self._running: set[Any] = set()  # DBAPI connections with a statement in flight

    @property
    def abandoned(self) -> bool:
        return self._gone.is_set()

    def statement_started(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._running.add(dbapi_connection)

    def statement_ended(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._running.discard(dbapi_connection)

    def abandon(self) -> None:
        """The client went away: stop what runs now (PostgreSQL: a cancel request per statement)
        and let SQLite's progress handler stop what it sees next."""
        self._gone.set()
        with self._lock:
            running = list(self._running)
        for connection in running:
            cancel = getattr(connection, "cancel_safe", None) or getattr(connection, "cancel", None)
            if cancel is not None:
                try:
                    cancel()
                except Exception:
                    continue


def begin() -> tuple[RequestLifetime, object]:
    lifetime = RequestLifetime()
    return lifetime, _current.set(lifetime)


def end(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current() -> RequestLifetime | None:
    return _current.get()


def abandoned() -> bool:
    lifetime = _current.get()
    return lifetime is not None and lifetime.abandoned
