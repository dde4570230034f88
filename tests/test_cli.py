"""The `crm-intel` command as a user runs it: a fresh data home, the working dir untouched."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from benchmarks.server import free_port
from crm_core.auth.policy import Role
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact, Job, PopulationState, Prediction
from crm_core.protection.keys import read_key_file
from crm_core.services.identity import login
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.conftest import CLI, DataHome


def counts(home: DataHome) -> tuple[int, int, int]:
    """(contacts, churn predictions, contacts given churn's population state instead)."""
    engine = create_engine(home.database_url)
    with engine.connect() as connection:
        contacts = connection.execute(select(func.count()).select_from(Contact)).scalar_one()
        predictions = connection.execute(
            select(func.count()).select_from(Prediction).where(Prediction.model_name == "churn")
        ).scalar_one()
        stated = connection.execute(
            select(func.count()).select_from(PopulationState).where(PopulationState.model_name == "churn")
        ).scalar_one()
    engine.dispose()
    return int(contacts), int(predictions), int(stated)


@pytest.mark.slow
def test_quickstart_runs_twice_safely_and_writes_only_under_the_data_home(tmp_path: Path) -> None:
    workdir, user_home = tmp_path / "cwd", tmp_path / "user-home"
    workdir.mkdir()
    user_home.mkdir()
    home = DataHome(tmp_path / "home")
    first = home.cli("quickstart", "--contacts", "1500", "--seed", "5", cwd=workdir, user_home=user_home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "quickstart summary" in first.stdout
    assert "promoted to champion" in first.stdout
    contacts, scored, stated = counts(home)
    assert contacts == 1500 and scored + stated == 1500 and scored > 0 and stated > 0, "each scored or told why"

    second = home.cli("quickstart", "--contacts", "1500", "--seed", "5", cwd=workdir, user_home=user_home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already holds 1,500 contacts" in second.stdout
    assert "kept as challenger" in second.stdout, "an identical retrain does not beat the champion"
    assert f"challenger churn v2 shadow-scored {scored:,} contacts" in second.stdout.replace("\n", " ")
    assert "recommendations written" in first.stdout and "0 recommendations written" in second.stdout
    assert counts(home) == (contacts, scored, stated), "nothing duplicated"

    logins = json.loads((home.path / "demo_logins.json").read_text())
    assert sorted(login["role"] for login in logins) == sorted(role.value for role in Role)
    assert stat.S_IMODE((home.path / "demo_logins.json").stat().st_mode) == 0o600
    assert len({login["password"] for login in logins}) == len(logins), "every demo password is its own"

    status = home.cli("models", "status", cwd=workdir)
    assert status.returncode == 0 and "v1" in status.stdout and "v2" in status.stdout, status.stdout
    only_one = home.cli("models", "rollback", "churn", cwd=workdir)
    assert only_one.returncode == 1 and "no champion of 'churn' is recorded before version 1" in only_one.stdout

    verified = home.cli("audit-verify", cwd=workdir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain intact" in verified.stdout

    assert list(workdir.iterdir()) == [], "nothing written outside the data home"
    assert list(user_home.rglob("*")) == [], "no telemetry ids or caches in the user's home"
    assert {p.name for p in home.path.iterdir()} >= {"crm.db", "mlflow.db", "feast", "mlartifacts"}


def test_scoring_without_a_champion_explains_what_to_do(tmp_path: Path) -> None:
    done = DataHome(tmp_path / "home").cli("score", "churn", cwd=tmp_path)
    assert done.returncode == 1
    assert "no champion model for 'churn': train one first" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_demo_data_refuses_a_non_empty_crm(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home")
    assert home.cli("demo-data", "--contacts", "50", cwd=tmp_path).returncode == 0
    again = home.cli("demo-data", "--contacts", "50", cwd=tmp_path)
    assert again.returncode == 1
    assert "--replace" in again.stdout
    replaced = home.cli("demo-data", "--contacts", "60", "--replace", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert counts(home)[0] == 60
    verified = home.cli("audit-verify", cwd=tmp_path)
    assert verified.returncode == 0, "the audit trail survives a replace, intact"


def test_data_home_files_and_exports_are_owner_only(tmp_path: Path) -> None:
    """The finding: data files, backups and exports were world-readable (umask 022)."""
    home = DataHome(tmp_path / "home")
    previous = os.umask(0o022)
    try:
        assert home.cli("demo-data", "--contacts", "50", cwd=tmp_path).returncode == 0
        out = tmp_path / "people.csv"
        exported = home.cli("export", "contacts", "--out", str(out), cwd=tmp_path)
        assert exported.returncode == 0, exported.stdout + exported.stderr
        backup = home.cli("backup", "--out", str(tmp_path / "backup"), cwd=tmp_path)
        assert backup.returncode == 0, backup.stdout + backup.stderr
    finally:
        os.umask(previous)
    assert stat.S_IMODE(home.path.stat().st_mode) == 0o700
    written = [out, *home.path.rglob("*"), *(tmp_path / "backup").rglob("*")]
    readable = [str(path) for path in written if stat.S_IMODE(path.stat().st_mode) & 0o077]
    assert readable == [], "group or others may read these"


def test_training_an_unknown_model_names_the_known_ones(tmp_path: Path) -> None:
    done = DataHome(tmp_path / "home").cli("train", "upsell", cwd=tmp_path)
    assert done.returncode == 1
    assert "unknown model 'upsell'; known models: churn, lead" in done.stdout


def test_create_user_refuses_weak_passwords_and_creates_a_user_who_can_log_in(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home")
    base = ["create-user", "--email", "Ops@Example.com", "--role", "admin", "--name", "Ops"]
    weak = home.cli(*base, "--password", "short", cwd=tmp_path)
    assert weak.returncode == 1
    assert "12 characters" in weak.stdout
    done = home.cli(*base, "--password", "a long enough passphrase", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created admin ops@example.com" in done.stdout
    engine = create_engine(home.database_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        issued = login(uow, CoreSettings(), email="ops@example.com", password="a long enough passphrase", now=utc_now())
    engine.dispose()
    assert issued.principal.role == "admin"


def test_rotate_keys_moves_every_personal_field_to_a_new_key(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home", own_keys=True)
    assert home.cli("demo-data", "--contacts", "40", cwd=tmp_path).returncode == 0
    key_file = CoreSettings(home=home.path).key_file
    before = read_key_file(key_file)
    done = home.cli("rotate-keys", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "80 values re-encrypted" in done.stdout, "40 emails and 40 phones"
    after = read_key_file(key_file)
    assert len(after.encryption_keys) == 1 and after.encryption_keys[0] not in before.encryption_keys
    engine = create_engine(home.database_url)
    with engine.connect() as connection:
        tokens = connection.execute(text("SELECT email FROM contacts")).scalars().all()
    engine.dispose()
    assert all(after.written_with_primary(token) for token in tokens)
    assert all("@example.com" in after.decrypt(token, "contacts.email") for token in tokens)
    assert home.cli("audit-verify", cwd=tmp_path).returncode == 0


def test_models_status_and_rollback_on_an_empty_registry(data_home: DataHome) -> None:
    status = data_home.cli("models", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "churn" in status.stdout and "none: train one" in status.stdout
    refused = data_home.cli("models", "rollback", "churn")
    assert refused.returncode == 1
    assert "'churn' has no champion to roll back" in refused.stdout


def test_models_define_says_each_definition_in_words(data_home: DataHome) -> None:
    (data_home.path / "models.toml").write_text(
        '[[model]]\nname = "churn"\ntitle = "Churn [red]risk[/red]"\noutcome = "stage_reached"\n'
        'stage = "churned"\nhorizon_days = 180\nmeaning = "marked churned within 180 days"\n'
    )
    every = data_home.cli("models", "define")
    assert every.returncode == 0, every.stdout + every.stderr
    words = " ".join(every.stdout.split())
    assert "the lifecycle stage becomes churned within 180 days" in words
    assert "Churn [red]risk[/red]" in words, "a title from the file is text, never console markup"
    assert "models.toml" in words and "built in" in words and "an open deal is won within 90 days" in words
    assert "scored for contacts not churned yet others see already churned" in words
    one = data_home.cli("models", "define", "lead")
    assert "deal_won" not in one.stdout and "lifecycle stage" not in one.stdout and "open deal" in one.stdout
    assert "contacts with a deal open" in one.stdout and "not a lead" in one.stdout
    unknown = data_home.cli("models", "define", "upsell")
    assert unknown.returncode == 1 and "unknown model 'upsell'" in unknown.stdout
    assert "Traceback" not in unknown.stdout + unknown.stderr


def test_no_mlflow_server_is_offered(data_home: DataHome) -> None:
    """The finding: `mlflow-ui` served the registry and an artifact proxy with no sign-in, and a
    local process took the champion over through it. The product serves no MLflow server."""
    done = data_home.cli("mlflow-ui")
    assert done.returncode == 2 and "No such command" in done.stdout + done.stderr


def test_jobs_lists_background_work_and_reports_a_dead_workers_job(data_home: DataHome) -> None:
    assert data_home.cli("db-upgrade").returncode == 0
    dead_worker = f"{os.uname().nodename}:{2**22 + 17}"  # above Linux's default pid_max
    engine = create_engine(data_home.database_url)
    with engine.begin() as connection:
        for kind, status, worker in (("import_contacts", "succeeded", None), ("train_model", "running", dead_worker)):
            connection.execute(
                Job.__table__.insert().values(
                    kind=kind,
                    status=status,
                    parameters={},
                    created_at=utc_now(),
                    started_at=utc_now(),
                    progress_done=0,
                    message="done" if status == "succeeded" else "training",
                    output="",
                    worker=worker,
                )
            )
    engine.dispose()
    listed = data_home.cli("jobs")
    assert listed.returncode == 0, listed.stderr
    assert "import_contacts" in listed.stdout and "succeeded" in listed.stdout
    assert "train_model" in listed.stdout and "interrupted" in listed.stdout, "never 'running' forever"


def test_a_crash_never_prints_a_password_from_the_commands_locals(data_home: DataHome) -> None:
    """Typer's pretty tracebacks show every frame's local variables: a database URL with its
    password among them. An unreachable server makes `db-upgrade` fail where nobody expected."""
    canary = "pw-canary-7f3a9"
    env = dict(data_home.env(), CRM_DATABASE_URL=f"postgresql+psycopg://crm:{canary}@127.0.0.1:1/crm")
    done = subprocess.run([*CLI, "db-upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert canary not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("build-features",), "no contacts, activities, orders or tickets to compute features from"),
        (("erase", "424242"), "contact 424242 not found"),
        (("import-dataset", "telco", "--data-dir", "/nonexistent/datasets"), "/nonexistent/datasets"),
        (("recommend", "--model", "churnn"), "unknown model 'churnn'"),
        (("models", "promote", "churn", "7"), "churn"),
    ],
    ids=["features", "crm-core", "datasets", "catalogue", "registry"],
)
def test_each_packages_refusal_reaches_the_one_handler_as_a_message(
    data_home: DataHome, args: tuple[str, ...], said: str
) -> None:
    done = data_home.cli(*args)
    shown = " ".join(done.stdout.split())
    assert done.returncode == 1, shown + done.stderr
    assert "error:" in shown and said.lower() in shown.lower(), shown
    assert "Traceback" not in done.stdout + done.stderr


def test_a_malformed_catalogue_stops_every_model_command_with_its_problem(data_home: DataHome) -> None:
    (data_home.path / "models.toml").write_text('[[model]]\nname = "upsell"\noutcome = "order_placed"\n')
    # `serve` too: the server's prediction routes are made from the catalogue when it starts.
    for command in (("train", "churn"), ("serve", "--port", str(free_port()))):
        done = data_home.cli(*command)
        shown = " ".join(done.stdout.split())
        assert done.returncode == 1 and "models.toml, model 1 ('upsell')" in shown and "title" in shown, command
        assert "Traceback" not in done.stdout + done.stderr


def test_a_message_quoting_markup_is_printed_as_it_is(data_home: DataHome) -> None:
    """A refusal quotes what the user typed: console markup in it is shown, never interpreted
    (an unbalanced closing tag used to end the command in a rich MarkupError traceback)."""
    done = data_home.cli("erase", "1", "--reason", "[/red]x[bold]")
    assert done.returncode == 1
    assert "unknown reason '[/red]x[bold]'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_readiness_before_any_build_says_what_is_short_and_exits_1(data_home: DataHome) -> None:
    done = data_home.cli("models", "readiness", "churn")
    shown = " ".join(done.stdout.split())
    assert done.returncode == 1, shown + done.stderr
    assert "not ready" in shown and "no feature snapshots: build features first" in shown
    assert "Traceback" not in done.stdout + done.stderr


# What a command that never touches a model may load: none of the model side's libraries.
MODEL_SIDE = ("sklearn", "lightgbm", "mlflow", "feast", "bentoml", "implicit")
STARTUP_PROBE = """
import sys
from crm_intel.cli import app
try:
    app(sys.argv[1:])
except SystemExit as finished:
    print("exit", finished.code)
print("loaded", *sorted(name for name in {model_side} if name in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [("import", "accounts", "accounts.csv", "--mapping", "accounts.toml"), ("jobs",)],
    ids=["import", "jobs"],
)
def test_a_command_that_touches_no_model_loads_none_of_the_model_side(
    data_home: DataHome, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Each of these libraries costs seconds to load in every command that imports it; a
    finished command's exit must not pull them in either (it once did, looking up the model
    refusals its error handler catches)."""
    (tmp_path / "accounts.csv").write_text("Org,Org Name\nA-1,Acme\n")
    (tmp_path / "accounts.toml").write_text('kind = "accounts"\n[columns]\nexternal_id = "Org"\nname = "Org Name"\n')
    probe = STARTUP_PROBE.format(model_side=MODEL_SIDE)
    done = subprocess.run(
        [CLI[0], "-c", probe, *args], env=data_home.env(), cwd=tmp_path, capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    assert lines[-2:] == ["exit 0", "loaded"], done.stdout + done.stderr


def test_models_status_reads_drift_as_a_person_would() -> None:
    """The worst drift the calendar does not explain decides the verdict, with what to do."""
    from rich.console import Console

    from crm_intel.app.modelling import ModelStatus
    from crm_intel.cli.summary import model_status_table
    from models.drift import FeatureDrift

    def shown(*drift: FeatureDrift) -> str:
        status = ModelStatus("churn", "1", ["1"], "1", "promoted", list(drift))
        out = Console(width=200, record=True, color_system=None)
        out.print(model_status_table([status]))
        return " ".join(out.export_text().split())

    aged = FeatureDrift("tenure_days", 1.5, 0.8, grows_with_time=True)
    calm = shown(aged, FeatureDrift("orders_count_90d", 0.05))
    assert "stable: tenure_days 1.50 (moves with time), orders_count_90d 0.05" in calm
    moved = shown(aged, FeatureDrift("orders_count_90d", 0.4, 0.02))
    assert "shifted; retrain on the newer history: crm-intel train churn: tenure_days 1.50 (moves with time)" in moved
