"""Uploads waiting for their job: owner-only files in the data home under random names, removed
by the runner when the job ends, whatever the outcome (they hold the people in the file)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

STAGED_NAME = re.compile(r"[0-9a-f]{32}\.upload")
PARAMETER = "file"  # the job parameter naming its staged upload


def staging_dir(home: Path) -> Path:
    return home.resolve() / "staging"


def stage_upload(home: Path, data: bytes) -> Path:
    folder = staging_dir(home)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.upload"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as staged:
        staged.write(data)
        staged.flush()
        os.fsync(staged.fileno())
    return path


def staged_file(home: Path, parameters: dict[str, Any]) -> Path | None:
    """The job's staged upload; None when it names none, or names anything but a staged file."""
    name = str(parameters.get(PARAMETER, ""))
    return staging_dir(home) / name if STAGED_NAME.fullmatch(name) else None


def remove_staged(home: Path, parameters: dict[str, Any]) -> None:
    path = staged_file(home, parameters)
    if path is not None:
        path.unlink(missing_ok=True)
