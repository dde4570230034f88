"""Background jobs: work too long for a request, kept as a record its requester can follow."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.entities.base import Base


class JobStatus(enum.StrEnum):
    """queued -> running -> succeeded | failed; `interrupted` when the worker running it died."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.INTERRUPTED})
# The job parameter naming the schedule that started a run no person asked for.
SCHEDULED_BY = "schedule"


class Job(Base):
    """One piece of background work. The queue carries only this row's id: what to do and for
    whom is read here, so a message on the queue can neither widen nor change the work."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_requested_by_created", "requested_by_id", "created_at"),
        Index(
            "uq_jobs_exclusive_active",
            "exclusive_key",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What the job works on (e.g. the staged file and the caller's token scopes); never shown.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Which worker process runs it (host:pid), so a restarted worker can tell its dead jobs.
    worker: Mapped[str | None] = mapped_column(String(120))
    # Renewed by the worker while the job runs: a job whose worker went quiet on any host (the
    # machine lost, the process frozen) is reported interrupted once this is stale.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    # What it is doing now, or why it failed: a sentence for a person, never a traceback.
    message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The job's log for a person: stage lines as they happen, the tail kept.
    output: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Jobs sharing a key (e.g. "model:churn") never run or wait side by side.
    exclusive_key: Mapped[str | None] = mapped_column(String(80))

    @property
    def scheduled_by(self) -> str | None:
        """The schedule that started this run, when no person asked for it."""
        schedule = (self.parameters or {}).get(SCHEDULED_BY) if self.requested_by_id is None else None
        return schedule if isinstance(schedule, str) and schedule else None


class RescoreRequest(Base):
    """A contact whose history changed since its scores were computed: the outbox live scoring
    drains. Written in the same transaction as the change, so a change committed is a change
    rescored, whether or not the queue's wake-up message got through. One row per contact:
    many writes before the worker gets to it are one rescore."""

    __tablename__ = "rescore_requests"

    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The newest write asking for it: a rescore done with older data leaves a newer request.
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    # When a worker took it; a claim older than the stale limit is taken again.
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Schedule(Base):
    """Work the worker starts by the clock (the nightly feature build and rescore, a model's
    retraining): written from the settings when a worker starts, shown on the Jobs page with its
    next run, and advanced by whichever worker starts the run (so two workers never both do)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    cron: Mapped[str] = mapped_column(String(120))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the last start said: its job, or why none was started ("the previous run is still going").
    last_outcome: Mapped[str] = mapped_column(String(300), default="")
