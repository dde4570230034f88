"""Model operations started from the web pages run as operator commands in their own process.

Retraining takes minutes of CPU and must not stall the server's worker, and promotion and
rollback belong to the training side's registry rules; so the page starts `crm-intel ...` in a
child process, the same command an operator would type, and shows its output while it runs.
One job per model at a time; every start is audited with who asked for it.

The server runs several workers, and the page that polls a job may be served by another worker
than the one that started it; so a job is files in the jobs folder, not a worker's memory: its
description, its output, and the exit status the starting worker writes when the command ends.
A per-model file lock keeps it to one job per model across workers. The starting worker takes
it and the command inherits it; it is free once both have let go: the command by ending, the
worker by writing the exit status (or by dying). So a free lock and no status means the job was
interrupted, never that it is just ending.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

OUTPUT_TAIL = 12_000  # characters of output shown on the page
POLL_SECONDS = 0.2


class JobBusyError(RuntimeError):
    """The model already has a job running."""


@dataclass(frozen=True)
class JobView:
    id: str
    model: str
    action: str
    started_at: datetime
    status: str  # running | succeeded | failed
    output: str
    pid: int | None = None  # the command's process, which holds the model's lock while it runs


class ModelJobs:
    """Starts the child processes and reads their state back from the jobs folder;
    `command` is the operator CLI's argv prefix."""

    def __init__(self, log_dir: Path, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.command = command or [sys.executable, "-m", "crm_intel.cli"]
        self.env = env

    def start(self, model: str, action: str, arguments: list[str]) -> JobView:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.log_dir / f"{model}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            job_id = uuid.uuid4().hex[:12]
            started_at = datetime.now(UTC).isoformat()
            self._current(model).write_text(job_id)
            pid = self._spawn(job_id, arguments, lock)  # from here on the waiter closes `lock`
        except BlockingIOError:
            lock.close()
            raise JobBusyError(self._busy_message(model)) from None
        except BaseException:
            lock.close()
            raise
        meta = {"model": model, "action": action, "started_at": started_at, "pid": pid}
        self._meta(job_id).write_text(json.dumps(meta))
        view = self._read(job_id)
        if view is None:
            raise RuntimeError(f"job {job_id}'s description vanished from {self.log_dir} as it started")
        return view

    def get(self, job_id: str) -> JobView | None:
        return self._read(job_id)

    def wait(self, job_id: str, timeout: float) -> JobView | None:
        """The job once it has ended, or as it stands when `timeout` runs out."""
        deadline = time.monotonic() + timeout
        view = self.get(job_id)
        while view is not None and view.status == "running" and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            view = self.get(job_id)
        return view

    def _spawn(self, job_id: str, arguments: list[str], lock: IO[str]) -> int:
        env = dict(self.env if self.env is not None else os.environ) | {"COLUMNS": "100", "NO_COLOR": "1"}
        with self._log(job_id).open("wb") as sink:
            process = subprocess.Popen(
                [*self.command, *arguments],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=(lock.fileno(),),
            )
        threading.Thread(target=self._record_exit, args=(job_id, process, lock), daemon=True).start()
        return process.pid

    def _record_exit(self, job_id: str, process: subprocess.Popen[bytes], lock: IO[str]) -> None:
        try:
            code = process.wait()  # also reaps the child
            # renamed into place, so a reader in another worker never sees a half-written status
            partial = self._exit(job_id).with_suffix(".partial")
            partial.write_text(str(code))
            os.replace(partial, self._exit(job_id))
        finally:
            lock.close()  # only now, with the status on disk, may the model's next job start

    def _busy_message(self, model: str) -> str:
        current = self._current(model)
        running = self._read(current.read_text().strip()) if current.exists() else None
        if running is None:
            return f"'{model}' is busy with another job"
        return f"'{model}' is busy: {running.action} started {running.started_at:%H:%M:%S}"

    def _read(self, job_id: str) -> JobView | None:
        try:
            meta = json.loads(self._meta(job_id).read_text())
        except FileNotFoundError:
            return None
        log = self._log(job_id)
        output = log.read_text(errors="replace")[-OUTPUT_TAIL:] if log.exists() else ""
        running = self._command_holds_lock(meta["model"], job_id)
        # read after the probe: the status is on disk before the lock is let go
        exit_file = self._exit(job_id)
        if exit_file.exists():
            status = "succeeded" if exit_file.read_text().strip() == "0" else "failed"
        elif running:
            status = "running"
        else:
            status = "failed"
            output += "\n[the job ended without an exit status: it was killed or its server stopped]"
        started_at = datetime.fromisoformat(meta["started_at"])
        return JobView(job_id, meta["model"], meta["action"], started_at, status, output, meta.get("pid"))

    def _command_holds_lock(self, model: str, job_id: str) -> bool:
        current = self._current(model)
        if not current.exists() or current.read_text().strip() != job_id:
            return False  # a later job of the same model started, so this one has ended
        with (self.log_dir / f"{model}.lock").open("a") as lock:
            try:
                # a shared probe: refused while a command holds the exclusive lock
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
        return False

    def _current(self, model: str) -> Path:
        """Names the model's latest job, so another worker can say what it is busy with."""
        return self.log_dir / f"{model}.current"

    def _meta(self, job_id: str) -> Path:
        return self.log_dir / f"{job_id}.json"

    def _log(self, job_id: str) -> Path:
        return self.log_dir / f"{job_id}.log"

    def _exit(self, job_id: str) -> Path:
        return self.log_dir / f"{job_id}.exit"
