"""One benchmark figure, the table they print as, and results.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    """`ours` beside `baseline` in `unit`; `ratio` is how many times better ours is (so > 1 is a
    win whichever way the unit points), `target` the ratio, or absolute value, we aim for."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    target: float
    better: Better = "higher"
    target_is_ratio: bool = True
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or self.ours == 0:
            return None
        return self.ours / self.baseline if self.better == "higher" else self.baseline / self.ours

    @property
    def met(self) -> bool:
        if self.extra.get("errors"):
            return False
        if self.target_is_ratio:
            return self.ratio is not None and self.ratio >= self.target
        return self.ours >= self.target if self.better == "higher" else self.ours <= self.target

    def as_json(self) -> dict[str, object]:
        return {
            "ours": round(self.ours, 4),
            "baseline": None if self.baseline is None else round(self.baseline, 4),
            "ratio": None if self.ratio is None else round(self.ratio, 2),
            "target": self.target,
            "target_is": "ratio" if self.target_is_ratio else f"{self.better} is better, in {self.unit}",
            "met": self.met,
            "unit": self.unit,
            "note": self.note,
            **({"extra": {k: round(v, 4) for k, v in self.extra.items()}} if self.extra else {}),
        }


def table(figures: list[Figure], title: str) -> Table:
    out = Table(title=title)
    for column in ("benchmark", "ours", "baseline", "unit", "ratio", "target", "met"):
        out.add_column(column, justify="left" if column in ("benchmark", "unit") else "right")
    for figure in figures:
        ratio = "-" if figure.ratio is None else f"{figure.ratio:,.1f}x"
        bound = ">=" if figure.target_is_ratio or figure.better == "higher" else "<="
        target = f"{bound} {figure.target:g}{'x' if figure.target_is_ratio else ''}"
        out.add_row(
            figure.name,
            f"{figure.ours:,.3g}",
            "-" if figure.baseline is None else f"{figure.baseline:,.3g}",
            figure.unit,
            ratio,
            target,
            "[green]yes[/]" if figure.met else "[red]no[/]",
        )
    return out


def save(figures: list[Figure], path: Path, *, sizes: str, keep_others: bool = False) -> None:
    """Each entry says which sizes and which day it was measured at. With `keep_others` (a run of
    some stages only) the figures not re-run stay as they were, so re-measuring one stage does
    not wipe the rest of the table."""
    kept = json.loads(path.read_text()) if keep_others and path.exists() else {}
    measured = {"sizes": sizes, "measured_on": date.today().isoformat()}
    fresh = {figure.name: figure.as_json() | measured for figure in figures}
    path.write_text(json.dumps(kept | fresh, indent=2) + "\n")


def show(figures: list[Figure], title: str, console: Console | None = None) -> None:
    (console or Console()).print(table(figures, title))
