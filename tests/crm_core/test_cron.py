"""Schedules' cron lines: the next run is the first matching minute after now, in UTC, and a
line that cannot be a cron line is refused naming it."""

from __future__ import annotations

from datetime import datetime

import pytest

from crm_core.errors import ValidationFailedError
from crm_core.jobs.cron import Cron

MONDAY_EVENING = datetime(2026, 12, 7, 22, 40, 31)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0 2 * * *", datetime(2026, 12, 8, 2, 0)),  # nightly
        ("0 3 * * 0", datetime(2026, 12, 13, 3, 0)),  # Sundays
        ("*/15 * * * *", datetime(2026, 12, 7, 22, 45)),
        ("41 22 * * *", datetime(2026, 12, 7, 22, 41)),
        ("40 22 7 12 *", datetime(2027, 12, 7, 22, 40)),  # this minute has begun: next year's
        ("30 4 29 2 *", datetime(2028, 2, 29, 4, 30)),  # the next leap day
    ],
)
def test_the_next_run_is_the_first_matching_minute_after_now(line: str, expected: datetime) -> None:
    assert Cron.parse(line).next_after(MONDAY_EVENING) == expected


def test_a_line_that_never_matches_has_no_next_run() -> None:
    assert Cron.parse("0 0 31 2 *").next_after(MONDAY_EVENING) is None


@pytest.mark.parametrize("line", ["61 * * * *", "* * *", "0 2 * * * *", "every night", "0 25 * * *"])
def test_a_broken_line_is_refused_naming_it(line: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        Cron.parse(line, setting="CRM_SCHEDULE_REFRESH")
    assert "CRM_SCHEDULE_REFRESH" in str(refused.value) and repr(line) in str(refused.value)
