"""What every `crm-intel` command module shares: the data home's context, a clean failure, and
the one handler for the errors a person is meant to read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.markup import escape

from crm_core.errors import CrmError
from crm_intel.console import console
from crm_intel.refusals import model_refusals

if TYPE_CHECKING:
    from crm_intel.context import AppContext


def context() -> AppContext:
    """The data home's settings and handles (settings that cannot work raise SettingsError,
    which `Command` reports with every problem named)."""
    from crm_intel.context import AppContext

    return AppContext.from_environment()


class Command(typer.Typer):
    """The `crm-intel` app: any error raised for a person ends the command with its message and
    exit status 1, from whichever command it came; anything else is a bug and keeps its trace
    (without local variables: they could hold a password or a key)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(pretty_exceptions_show_locals=False, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            # The `models` refusals are looked up only once something failed: importing them
            # loads scikit-learn, seconds a command that never touched a model would pay (the
            # SystemExit every finished command raises is no Exception, so it never gets here).
            if not isinstance(error, (CrmError, *model_refusals())):
                raise
            console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
            raise SystemExit(1) from None


def fail(message: str) -> NoReturn:
    # Escaped: a message can quote a file's column or a value, "[/bold]" included. Not wrapped:
    # a path or URL in it stays whole.
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=1)
