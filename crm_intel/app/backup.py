"""Back up a whole data home and restore it: the CRM, the MLflow registry and its artifacts, and
the feature store's files, in one folder with a manifest of sha256 digests.

What is left out, on purpose: the field-encryption keys (a backup that carries its own keys
protects nothing; keep them in a secrets store, or pass `include_keys` knowingly), the demo
logins (working passwords) and caches the server rebuilds (BentoML's home, job logs).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from crm_core.backup import (
    BackupError,
    DumpKind,
    copy_sqlite,
    database_exists,
    dump_database,
    dump_kind,
    is_sqlite_file,
    restore_database,
    table_counts,
)
from crm_core.bulk_load import contact_count
from crm_core.clock import utc_now
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import Contact
from crm_core.opening import open_crm
from crm_core.services.audit import chain_head
from crm_core.unit_of_work import UnitOfWork
from crm_intel.audit_heads import export_head
from crm_intel.context import AppContext

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Folders of the home copied file by file (SQLite files among them through the backup API).
HOME_TREES = ("feast", "online", "mlartifacts", "training_sets")
KEYS_DIR = "keys"


@dataclass
class BackupResult:
    path: Path
    crm_rows: dict[str, int]
    files: int
    bytes: int
    keys_included: bool


@dataclass
class RestoreResult:
    path: Path
    crm_rows: dict[str, int]
    files: int
    warnings: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _database_file(kind: DumpKind, name: str) -> str:
    return f"{name}.sqlite" if kind == "sqlite" else f"{name}.pgdump"


def _copy_tree(source: Path, destination: Path) -> None:
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        if path.name.endswith(("-wal", "-shm", ".partial")):
            continue  # folded into the SQLite copy / never complete
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_sqlite_file(path):
            copy_sqlite(path, target)
        else:
            shutil.copy2(path, target)


def backup(ctx: AppContext, out: Path, *, include_keys: bool = False) -> BackupResult:
    """Write the bundle into `out` (which must not exist yet); the manifest is written last, so a
    folder without one is an interrupted backup and restore refuses it."""
    if out.exists():
        raise BackupError(f"{out} already exists: choose a new folder for each backup")
    out.mkdir(parents=True)
    crm_url, mlflow_url = ctx.core.resolved_database_url(), ctx.training.tracking_uri
    crm_kind = dump_database(crm_url, out / _database_file(dump_kind(crm_url), "crm"))
    mlflow: dict[str, str] | None = None
    if database_exists(mlflow_url):  # no registry before the first training run
        mlflow_kind = dump_database(mlflow_url, out / _database_file(dump_kind(mlflow_url), "mlflow"))
        mlflow = {"kind": mlflow_kind, "file": _database_file(mlflow_kind, "mlflow")}
    home = ctx.home.resolve()
    trees = [*HOME_TREES, *([KEYS_DIR] if include_keys else [])]
    for tree in trees:
        if (home / tree).is_dir():
            _copy_tree(home / tree, out / "home" / tree)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "created_at": utc_now().isoformat(),
        "origin_home": str(home),
        "crm": {"kind": crm_kind, "file": _database_file(crm_kind, "crm"), "rows": table_counts(ctx.engine)},
        "mlflow": mlflow,
        "keys_included": include_keys,
        "files": {p.relative_to(out).as_posix(): _sha256(p) for p in files},
    }
    manifest["audit_head"] = _export_audit_head(ctx)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return BackupResult(
        path=out,
        crm_rows=manifest["crm"]["rows"],
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        keys_included=include_keys,
    )


def _export_audit_head(ctx: AppContext) -> dict[str, Any]:
    """The audit chain's head at backup time, in the manifest and in the home's exported heads."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        head = chain_head(uow)
    export_head(ctx.home.resolve(), head, reason="backup")
    return {"last_event_id": head.last_event_id, "last_hash": head.last_hash}


def read_verified_manifest(bundle: Path) -> dict[str, Any]:
    """The manifest, after every file it lists was found with its digest (and no file is missing)."""
    manifest_path = bundle / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{bundle} has no {MANIFEST}: not a backup, or one that was interrupted")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"backup format {manifest.get('format')} is not one this version reads ({FORMAT_VERSION})")
    for name, expected in manifest["files"].items():
        path = bundle / name
        if not path.is_file():
            raise BackupError(f"backup file {name} is missing")
        if _sha256(path) != expected:
            raise BackupError(f"backup file {name} does not match its sha256: the backup is damaged")
    return manifest


def restore(ctx: AppContext, bundle: Path, *, force: bool = False) -> RestoreResult:
    """Put a verified backup back into this data home. Refuses to overwrite a CRM that holds
    contacts unless `force`; stop the server first (it would keep the old database open)."""
    manifest = read_verified_manifest(bundle)
    home = ctx.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    crm_url = ctx.core.resolved_database_url()
    _close_engine(ctx)
    if not force and _holds_contacts(crm_url):
        raise BackupError(f"the CRM at {crm_url} already holds contacts: pass --force to replace it")
    warnings = []
    if manifest["origin_home"] != str(home):
        warnings.append(
            f"backed up from {manifest['origin_home']}, restored into {home}: MLflow records artifact "
            "locations by absolute path, so keep the same CRM_HOME path for models to load"
        )
    restore_database(crm_url, bundle / manifest["crm"]["file"], manifest["crm"]["kind"])
    if manifest["mlflow"] is not None:
        registry = manifest["mlflow"]
        restore_database(ctx.training.tracking_uri, bundle / registry["file"], registry["kind"])
    restored_files = 0
    for tree in [*HOME_TREES, KEYS_DIR]:
        source = bundle / "home" / tree
        if not source.is_dir():
            continue
        if (home / tree).exists():
            shutil.rmtree(home / tree)
        shutil.copytree(source, home / tree)
        restored_files += sum(1 for p in source.rglob("*") if p.is_file())
    if not manifest["keys_included"] and not ctx.core.field_keys and not ctx.core.key_file.is_file():
        warnings.append("the backup holds no field keys: put the keys file back (or set CRM_FIELD_KEYS) to read them")
    engine = open_crm(ctx.core)  # migrates a backup taken by an older version up to this schema
    try:
        rows = table_counts(engine)
    finally:
        engine.dispose()
    return RestoreResult(path=bundle, crm_rows=rows, files=restored_files, warnings=warnings)


def _close_engine(ctx: AppContext) -> None:
    """The context's engine may hold pooled connections to the file about to be replaced."""
    engine: Engine | None = ctx.__dict__.pop("engine", None)
    if engine is not None:
        engine.dispose()


def _holds_contacts(url: str) -> bool:
    engine = make_engine(url)
    try:
        return Contact.__tablename__ in inspect(engine).get_table_names() and contact_count(engine) > 0
    finally:
        engine.dispose()


def default_bundle_path(home: Path, now: datetime) -> Path:
    return home.resolve().parent / "backups" / f"crm-intel-{now.strftime('%Y%m%dT%H%M%SZ')}"
