"""`crm-intel segments ...`: audiences built from rules and behaviour clusters."""

from __future__ import annotations

import typer

from crm_intel.cli.support import context
from crm_intel.console import console

segments_app = typer.Typer(
    help="Audiences: rule segments and behaviour clusters.", no_args_is_help=True, pretty_exceptions_show_locals=False
)


@segments_app.command("refresh")
def segments_refresh() -> None:
    """Re-evaluate rule segments on the newest scores and refit the behaviour clusters."""
    from crm_intel.app import scoring

    scoring.refresh_segments_now(context())


@segments_app.command("list")
def segments_list() -> None:
    """Every segment with its size and when it was last refreshed."""
    from crm_core.auth.policy import Role
    from crm_core.auth.principal import Principal
    from crm_core.db import make_session_factory
    from crm_core.services.segments import list_segments
    from crm_core.unit_of_work import UnitOfWork

    with UnitOfWork(make_session_factory(context().engine)) as uow:
        for segment in list_segments(uow, Principal.system(Role.ADMIN, "crm-intel segments")):
            refreshed = f"{segment.refreshed_at:%Y-%m-%d %H:%M}" if segment.refreshed_at else "never"
            console.print(
                f"{segment.id:>4}  {segment.kind:<7} {segment.member_count:>8,}  {segment.name}  ({refreshed})"
            )
