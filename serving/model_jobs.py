"""Model operations started from the web pages run as operator commands in their own process.

Retraining takes minutes of CPU and must not stall the server's worker, and promotion and
rollback belong to the training side's registry rules; so the page starts `crm-intel ...` in a
child process, the same command an operator would type, and shows its output while it runs.
One job per model at a time; every start is audited with who asked for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

OUTPUT_TAIL = 12_000  # characters of output shown on the page


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


@dataclass
class _Job:
    id: str
    model: str
    action: str
    started_at: datetime
    process: subprocess.Popen[bytes]
    log: Path


class ModelJobs:
    """Starts and watches the child processes; `command` is the operator CLI's argv prefix."""

    def __init__(self, log_dir: Path, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.command = command or [sys.executable, "-m", "crm_intel.cli"]
        self.env = env
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()

    def start(self, model: str, action: str, arguments: list[str]) -> JobView:
        with self._lock:
            busy = [job for job in self._jobs.values() if job.model == model and job.process.poll() is None]
            if busy:
                raise JobBusyError(f"'{model}' is busy: {busy[0].action} started {busy[0].started_at:%H:%M:%S}")
            self.log_dir.mkdir(parents=True, exist_ok=True)
            job_id = uuid.uuid4().hex[:12]
            log = self.log_dir / f"{job_id}.log"
            env = dict(self.env if self.env is not None else os.environ) | {"COLUMNS": "100", "NO_COLOR": "1"}
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [*self.command, *arguments],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            job = _Job(job_id, model, action, datetime.now(UTC), process, log)
            self._jobs[job_id] = job
        return self._view(job)

    def get(self, job_id: str) -> JobView | None:
        job = self._jobs.get(job_id)
        return None if job is None else self._view(job)

    def wait(self, job_id: str, timeout: float) -> JobView | None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.process.wait(timeout=timeout)
        return self.get(job_id)

    @staticmethod
    def _view(job: _Job) -> JobView:
        code = job.process.poll()
        status = "running" if code is None else ("succeeded" if code == 0 else "failed")
        text = job.log.read_text(errors="replace") if job.log.exists() else ""
        return JobView(job.id, job.model, job.action, job.started_at, status, text[-OUTPUT_TAIL:])
