"""Consistent copies of a database while it is in use, and putting one back.

SQLite is copied with its online backup API (a page-consistent snapshot even while the API or a
write-back is committing: copying the file and its WAL by hand can tear a transaction);
PostgreSQL with `pg_dump` in its custom format, restored with `pg_restore`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, func, inspect, select, table
from sqlalchemy.engine import URL, make_url

from crm_core.errors import CrmError

DumpKind = Literal["sqlite", "postgresql"]
SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(CrmError, RuntimeError):
    """A dump or restore that could not be completed; nothing was left half-written."""


def database_exists(url: str) -> bool:
    """False only for a SQLite file not created yet (a server database is taken to exist)."""
    return dump_kind(url) != "sqlite" or sqlite_path(url).is_file()


def dump_kind(url: str) -> DumpKind:
    backend = make_url(url).get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend  # type: ignore[return-value]
    raise BackupError(f"no backup method for {backend} databases (SQLite and PostgreSQL are supported)")


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is not a SQLite file")
    return Path(database)


def libpq_connection(url: str) -> tuple[str, dict[str, str]]:
    """The URL pg_dump and pg_restore are given (libpq does not know SQLAlchemy's `+driver`
    suffix) and the environment that carries the password: a command line is readable by every
    user of the machine (`ps`), a process's environment only by its owner."""
    parsed = make_url(url)
    secret = {"PGPASSWORD": str(parsed.password)} if parsed.password else {}
    bare = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return bare.render_as_string(hide_password=False), secret


def is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def copy_sqlite(source: Path, destination: Path) -> None:
    """Online backup of one SQLite file into `destination` (written beside, then renamed)."""
    scratch = destination.with_name(destination.name + ".partial")
    scratch.unlink(missing_ok=True)
    destination.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(scratch)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    scratch.replace(destination)


def dump_database(url: str, destination: Path) -> DumpKind:
    kind = dump_kind(url)
    if kind == "sqlite":
        if not sqlite_path(url).is_file():
            raise BackupError(f"there is no database at {url}")
        copy_sqlite(sqlite_path(url), destination)
        return kind
    scratch = destination.with_name(destination.name + ".partial")
    database, secret = libpq_connection(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={scratch}", database], secret)
    scratch.replace(destination)
    return kind


def restore_database(url: str, dump: Path, kind: DumpKind) -> None:
    """Replace the database at `url` with the dump's content. The caller makes sure nothing is
    using it: a server still running on the old file would keep writing to it."""
    if dump_kind(url) != kind:
        raise BackupError(f"the backup holds a {kind} database; {url} is not one (restore into the same kind)")
    if kind == "sqlite":
        target = sqlite_path(url)
        for leftover in (target.with_name(target.name + suffix) for suffix in ("-wal", "-shm")):
            leftover.unlink(missing_ok=True)
        copy_sqlite(dump, target)
        return
    database, secret = libpq_connection(url)
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          f"--dbname={database}", str(dump)], secret)  # fmt: skip


def _run(command: list[str], secret: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools are needed for this database)")
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **secret})
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table: what a restore must bring back, compared after it."""
    names = sorted(inspect(engine).get_table_names())
    counts = {}
    with engine.connect() as connection:
        for name in names:
            counts[name] = int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())
    return counts
