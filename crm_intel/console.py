"""Progress and summaries for long jobs, shared by every command."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

console = Console()


def peak_memory_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class StageTimer:
    """Times named stages and records the process's peak memory after each."""

    rows: list[tuple[str, float, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with console.status(f"[bold]{name}[/]..."):
            yield
        elapsed = time.perf_counter() - started
        self.rows.append((name, elapsed, peak_memory_mb()))
        console.print(f"[green]done[/] {name} in {elapsed:.1f} s")

    def table(self) -> Table:
        table = Table(title="stages", show_edge=False)
        table.add_column("stage")
        table.add_column("wall time", justify="right")
        table.add_column("peak memory", justify="right")
        for name, elapsed, memory in self.rows:
            table.add_row(name, f"{elapsed:.1f} s", f"{memory:,.0f} MB")
        table.add_row("[bold]total[/]", f"[bold]{sum(r[1] for r in self.rows):.1f} s[/]", "")
        return table


class StepReporter:
    """Prints each step a pipeline announces, and the time the previous one took; to the
    console, or to `write` (a background job's log)."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._current: tuple[str, float] | None = None
        self._write = write

    def _line(self, markup: str) -> None:
        if self._write is None:
            console.print(markup)
        else:
            self._write(Text.from_markup(markup).plain)

    def __call__(self, name: str) -> None:
        self._finish_current()
        self._line(f"  - {escape(name)}")
        self._current = (name, time.perf_counter())

    def _finish_current(self) -> None:
        if self._current is not None:
            name, started = self._current
            self._line(f"    [dim]{escape(name)}: {time.perf_counter() - started:.1f} s[/]")
            self._current = None

    def __enter__(self) -> StepReporter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._finish_current()


def row_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
