"""A serving worker runs a bounded number of prediction requests' blocking work at once; the
rest wait on the event loop and are all answered."""

from __future__ import annotations

import threading
import time

import anyio
import pytest
from pydantic import ValidationError

from serving.answers import WorkLimit
from serving.settings import ServingSettings


def test_no_more_than_the_limit_run_at_once_and_every_request_is_answered() -> None:
    limit = WorkLimit(2)
    running, peak = 0, 0
    guard = threading.Lock()

    def work(number: int) -> int:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with guard:
            running -= 1
        return number * 10

    answers: dict[int, int] = {}

    async def one(number: int) -> None:
        answers[number] = await limit.run(lambda: work(number))

    async def many() -> None:
        async with anyio.create_task_group() as group:
            for number in range(8):
                group.start_soon(one, number)

    anyio.run(many)
    assert answers == {number: number * 10 for number in range(8)}
    assert peak == 2


def test_the_limit_is_a_positive_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PREDICTION_THREADS", "3")
    assert ServingSettings().prediction_threads == 3
    monkeypatch.setenv("CRM_PREDICTION_THREADS", "0")
    with pytest.raises(ValidationError, match="prediction_threads"):
        ServingSettings()
