"""A real `crm-intel serve` for end-to-end tests, on a data home's environment; a server that
fails to start fails the test with its log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks.server import RunningServer, ServerFailedError
from benchmarks.server import served as served_with
from tests.conftest import DataHome

__all__ = ["RunningServer", "served", "serving"]


@contextmanager
def served(home: DataHome, root: Path) -> Iterator[RunningServer]:
    """Serve `home` on a free loopback port, with the process, for tests that watch or signal it."""
    try:
        with served_with(home.env(), root) as server:
            yield server
    except ServerFailedError as error:
        pytest.fail(str(error), pytrace=False)


@contextmanager
def serving(home: DataHome, root: Path) -> Iterator[str]:
    """Serve `home` on a free loopback port; yields the base URL, stops the server after."""
    with served(home, root) as server:
        yield server.url
