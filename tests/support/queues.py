"""Running a job queue's messages in the test's own process, as `crm-intel worker` would."""

from __future__ import annotations

from crm_core.jobs.queue import JobQueue


def drain(queue: JobQueue) -> int:
    """Run what is queued until nothing is left; returns how many messages were taken."""
    taken = 0
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)
        taken += 1
    return taken
