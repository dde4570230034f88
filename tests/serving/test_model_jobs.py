"""Model-page jobs seen from several server workers: each worker has its own `ModelJobs` on the
same jobs folder, so a job started by one is polled, refused as a duplicate and reported as
interrupted by another, with real child processes. Also how many workers a server starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from serving.model_jobs import JobBusyError, ModelJobs
from serving.settings import serve_workers, service_tracing

# argv: seconds to sleep, exit code; prints before and after so the output is checked too
SLEEPER = [
    sys.executable,
    "-c",
    "import sys, time; print('working', flush=True); time.sleep(float(sys.argv[1])); print('end');"
    " sys.exit(int(sys.argv[2]))",
]


def _workers(folder: Path) -> tuple[ModelJobs, ModelJobs]:
    return ModelJobs(folder, command=SLEEPER), ModelJobs(folder, command=SLEEPER)


def test_a_job_started_by_one_worker_is_followed_to_its_end_by_another(tmp_path: Path) -> None:
    starter, poller = _workers(tmp_path)
    job = starter.start("churn", "retrain", ["1.0", "0"])
    seen = poller.get(job.id)
    assert seen is not None and (seen.model, seen.action, seen.status) == ("churn", "retrain", "running")
    done = poller.wait(job.id, timeout=30)
    assert done is not None and done.status == "succeeded"
    assert "working" in done.output and "end" in done.output
    assert poller.get("0123456789ab") is None


def test_one_job_per_model_across_workers_and_the_lock_is_free_once_it_ends(tmp_path: Path) -> None:
    starter, other = _workers(tmp_path)
    first = starter.start("churn", "retrain", ["30", "0"])
    with pytest.raises(JobBusyError, match="'churn' is busy: retrain started"):
        other.start("churn", "promote", ["0", "0"])
    lead = other.start("lead", "retrain", ["0", "3"])  # another model is not blocked
    failed = starter.wait(lead.id, timeout=30)
    assert failed is not None and failed.status == "failed" and "end" in failed.output
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    killed = other.wait(first.id, timeout=30)
    assert killed is not None and killed.status == "failed"
    again = other.start("churn", "promote", ["0", "0"])
    finished = starter.wait(again.id, timeout=30)
    assert finished is not None and finished.status == "succeeded"


def test_a_job_whose_worker_died_runs_on_and_is_then_reported_as_interrupted(tmp_path: Path) -> None:
    # a worker process that starts a job and dies at once, before it can record the job's end
    worker = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from serving.model_jobs import ModelJobs
        job = ModelJobs(Path({str(tmp_path)!r}), command={SLEEPER!r}).start("churn", "retrain", ["1.5", "0"])
        print(job.id, flush=True)
        os._exit(0)
        """
    )
    job_id = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True, check=True).stdout.strip()
    poller = ModelJobs(tmp_path, command=SLEEPER)
    running = poller.get(job_id)
    assert running is not None and running.status == "running", "the command outlives its worker"
    with pytest.raises(JobBusyError):
        poller.start("churn", "retrain", ["0", "0"])
    ended = poller.wait(job_id, timeout=30)
    assert ended is not None and ended.status == "failed"
    assert "working" in ended.output and "ended without an exit status" in ended.output
    poller.wait(poller.start("churn", "retrain", ["0", "0"]).id, timeout=30)  # and the model is free again


def test_the_worker_count_comes_from_the_environment_or_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_SERVE_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert serve_workers() == min(cores, 4)
    monkeypatch.setenv("CRM_SERVE_WORKERS", "3")
    assert serve_workers() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("CRM_SERVE_WORKERS", bad)
        with pytest.raises(ValueError, match="CRM_SERVE_WORKERS"):
            serve_workers()


def test_request_tracing_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no exporter the spans BentoML opens for every request go nowhere; the exclusion
    must cover every URL as OpenTelemetry itself parses it, or the cost silently comes back."""
    from opentelemetry.util.http import parse_excluded_urls

    monkeypatch.delenv("CRM_TRACE_REQUESTS", raising=False)
    excluded = parse_excluded_urls(service_tracing()["excluded_urls"])
    for url in ("http://127.0.0.1:3000/predict/churn", "http://127.0.0.1:3000/api/contacts/1?limit=5"):
        assert excluded.url_disabled(url)
    monkeypatch.setenv("CRM_TRACE_REQUESTS", "1")
    assert "excluded_urls" not in service_tracing()
