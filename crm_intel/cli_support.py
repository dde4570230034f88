"""What every `crm-intel` command module shares: the data home's context and a clean failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from crm_intel.console import console

if TYPE_CHECKING:
    from crm_intel.context import AppContext


def context() -> AppContext:
    from crm_intel.context import AppContext

    return AppContext.from_environment()


def fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=1)
