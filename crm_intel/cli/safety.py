"""The commands that keep a data home safe: audit-chain check, backup, restore, key rotation.

Registered on the root command by `crm_intel.cli`; kept apart so the CLI module stays a list
of thin shells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crm_intel.cli.support import context, fail
from crm_intel.console import console

safety = typer.Typer(pretty_exceptions_show_locals=False)


@safety.command("audit-verify")
def audit_verify() -> None:
    """Recompute the audit trail's keyed hash chain; exits 1 at the first tampered event.

    Every head exported at an earlier verify or backup must still be in the chain; an intact
    chain's head is exported again.
    """
    from crm_core.db import make_session_factory
    from crm_core.services.audit import chain_head, verify_chain
    from crm_core.unit_of_work import UnitOfWork
    from crm_intel.audit_heads import export_head, exported_heads

    ctx = context()
    home = ctx.home.resolve()
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        check = verify_chain(uow, exported_heads(home))
        head = chain_head(uow)
    if not check.intact:
        fail(
            f"audit chain broken at event {check.first_broken_id} (after {check.events:,} intact events): "
            f"{check.reason}"
        )
    export_head(home, head, reason="audit-verify")
    console.print(f"audit chain intact: {check.events:,} events; head {head.last_hash[:16]}... exported")


@safety.command()
def backup(
    out: Annotated[Path | None, typer.Option(help="new folder (default: backups/ beside the home)")] = None,
    include_keys: Annotated[
        bool, typer.Option(help="also copy the field-encryption keys (keep such a backup as safe as the keys)")
    ] = False,
) -> None:
    """Back up the CRM, the model registry and the feature store into one verified folder."""
    from crm_core.clock import utc_now
    from crm_intel.app.backup import backup as run_backup
    from crm_intel.app.backup import default_bundle_path

    ctx = context()
    target = out or default_bundle_path(ctx.home, utc_now())
    with console.status("backing up"):
        result = run_backup(ctx, target, include_keys=include_keys)
    contacts = result.crm_rows.get("contacts", 0)
    console.print(
        f"backup written to {result.path}: {contacts:,} contacts, {sum(result.crm_rows.values()):,} CRM rows, "
        f"{result.files:,} files, {result.bytes / 1e6:,.1f} MB, every file sha256-listed in manifest.json"
    )
    if not result.keys_included:
        console.print("[yellow]field keys are not in the backup: keep them safe separately[/]")


@safety.command()
def restore(
    bundle: Annotated[Path, typer.Argument(help="a folder written by `crm-intel backup`")],
    force: Annotated[bool, typer.Option(help="replace a CRM that already holds contacts")] = False,
) -> None:
    """Restore a backup into this data home after checking every file's sha256. Stop the server first."""
    from crm_intel.app.backup import restore as run_restore

    with console.status("verifying and restoring"):
        result = run_restore(context(), bundle, force=force)
    for warning in result.warnings:
        console.print(f"[yellow]{warning}[/]")
    console.print(
        f"restored {result.path}: {result.crm_rows.get('contacts', 0):,} contacts, "
        f"{sum(result.crm_rows.values()):,} CRM rows, {result.files:,} files"
    )


@safety.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every personal field under a new key and retire the old ones.

    With keys in CRM_FIELD_KEYS, first put the new key in front of the old ones; remove the old
    ones from the setting once this has finished.
    """
    from crm_intel.app import records

    ctx = context()
    result = records.rotate_field_keys(ctx)
    console.print(f"{result.values_rewritten:,} values re-encrypted, {result.values_already_current:,} already current")
    if ctx.core.field_keys:
        console.print("now remove every key but the first from CRM_FIELD_KEYS")
