"""When a schedule runs next: a five-field cron line ("minute hour day month weekday", UTC),
matched by huey's own `crontab` (what its periodic tasks use), so what the Jobs page promises is
what the worker's clock does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from huey import crontab

from crm_core.errors import ValidationFailedError

FIELDS = ("minute", "hour", "day", "month", "day_of_week")
# Far enough for any yearly line, and a line that never matches (the 31st of February) ends here.
LOOK_AHEAD_DAYS = 4 * 366


@dataclass(frozen=True)
class Cron:
    line: str
    _matches: Callable[[datetime], bool]
    _day_matches: Callable[[datetime], bool]

    @classmethod
    def parse(cls, line: str, *, setting: str = "schedule") -> Cron:
        """A cron line, or ValidationFailedError naming the setting and the line."""
        parts = line.split()
        if len(parts) != len(FIELDS):
            raise ValidationFailedError(setting, f"{line!r} is not a cron line of five fields ({' '.join(FIELDS)})")
        fields = dict(zip(FIELDS, parts, strict=True))
        try:
            matches = crontab(**fields, strict=True)
            day_matches = crontab(**(fields | {"minute": "*", "hour": "*"}), strict=True)
        except ValueError as error:
            raise ValidationFailedError(setting, f"{line!r}: {error}") from None
        return cls(" ".join(parts), matches, day_matches)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first whole minute after `moment` the line matches (None: not within four years)."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(LOOK_AHEAD_DAYS):
            if self._day_matches(day):
                minute = max(start, day)
                while minute.date() == day.date():
                    if self._matches(minute):
                        return minute
                    minute += timedelta(minutes=1)
            day += timedelta(days=1)
        return None
