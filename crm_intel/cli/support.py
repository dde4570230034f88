"""What every `crm-intel` command module shares: the data home's context and a clean failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from crm_intel.console import console

if TYPE_CHECKING:
    from crm_intel.context import AppContext


def context() -> AppContext:
    """The data home's settings and handles; settings that cannot work end the command with
    every problem named, never a traceback."""
    from crm_core.settings import SettingsError
    from crm_intel.context import AppContext

    try:
        return AppContext.from_environment()
    except SettingsError as error:
        fail(str(error))


def fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=1)
