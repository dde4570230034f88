"""The data scientists' model pages over a real MLflow registry: charts from the logged holdout
curves, champion beside challenger, and promotion / rollback / retraining run as jobs on the
real job queue, executed here by the worker's own runner and handlers."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Job
from crm_core.exports import export_crm
from crm_core.jobs.queue import JobQueue
from crm_core.jobs.runner import JobRunner
from crm_core.protection.keyring import FieldKeyring
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from crm_intel.context import AppContext
from crm_intel.model_job_handlers import model_handlers
from features.model_registry import PromotionRefusedError
from features.model_registry.vocabulary import CHAMPION_HOLDOUT_PREFIX, REASON_TAG
from serving.model_desk import ModelDesk
from serving.web_models import create_pages
from tests.support.queues import drain
from training.jobs import registry_for
from training.settings import TrainingSettings

pytestmark = pytest.mark.slow

PASSWORD = "model pages password"
CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')
PAYLOAD = "<script>window.__xss=1</script>"


@dataclass(frozen=True)
class Desk:
    host: FastAPI
    training: TrainingSettings
    worker: JobQueue
    worker_engine: Engine

    def work(self) -> int:
        """Run what is queued, as `crm-intel worker` would; returns how many messages it took."""
        return drain(self.worker)

    def client(self, role: Role) -> TestClient:
        client = TestClient(self.host, follow_redirects=False)
        response = client.post(f"{WEB_PREFIX}/login", data={"email": f"web-{role.value}@x.test", "password": PASSWORD})
        assert response.status_code == 303
        return client


@pytest.fixture(scope="module")
def desk(generated_crm: AppContext, field_keys: FieldKeyring, tmp_path_factory: pytest.TempPathFactory) -> Desk:
    """Churn trained twice into a registry of its own: v1 champion, v2 an equal challenger the
    gate did not promote (no margin)."""
    from training.jobs import train

    registry_home = tmp_path_factory.mktemp("registry")
    training = TrainingSettings(home=registry_home)
    export = export_crm(generated_crm.engine)
    first = train("churn", export, generated_crm.features, training)
    second = train("churn", export, generated_crm.features, training)
    assert (first.decision.promote, second.decision.promote) == (True, False)
    session_factory = make_session_factory(generated_crm.engine)
    with UnitOfWork(session_factory) as uow:
        for role in (Role.DATA_SCIENTIST, Role.SALES_REP):
            create_user(
                uow,
                Principal.system(Role.ADMIN, "tests"),
                email=f"web-{role.value}@x.test",
                full_name=role.value,
                role=role.value,
                password=PASSWORD,
                now=utc_now(),
            )
        uow.commit()
    # The worker's side: the generated CRM's data with this module's own registry and queue.
    settings = CoreSettings(home=registry_home, login_max_failures=1000)
    context = replace(generated_crm, training=training)
    worker = JobQueue.from_settings(settings, JobRunner(session_factory, registry_home, model_handlers(context)))
    host = FastAPI()
    host.mount(WEB_PREFIX, create_pages(ModelDesk(registry_for(training)), session_factory, settings))
    return Desk(host, training, worker, generated_crm.engine)


def _run_job(desk: Desk, client: TestClient, path: str, data: dict[str, str]) -> str:
    response = client.post(f"{WEB_PREFIX}{path}", data=data)
    assert response.status_code == 303, response.text
    job_id = response.headers["location"].rsplit("job=", 1)[1]
    queued = client.get(f"{WEB_PREFIX}/models/jobs/{job_id}").json()
    assert queued["status"] == "queued", queued
    assert desk.work() == 1
    polled = client.get(f"{WEB_PREFIX}/models/jobs/{job_id}").json()
    assert polled["status"] == "succeeded", polled
    assert polled["seconds"] is not None and polled["seconds"] >= 0
    return str(polled["output"])


def test_model_page_draws_holdout_charts_and_sets_champion_beside_challenger(desk: Desk) -> None:
    scientist = desk.client(Role.DATA_SCIENTIST)
    listing = scientist.get(f"{WEB_PREFIX}/models").text
    assert f"{WEB_PREFIX}/models/churn" in listing and "v1" in listing
    page = scientist.get(f"{WEB_PREFIX}/models/churn").text
    for chart in ("chart-roc", "chart-precision-recall", "chart-calibration", "chart-lift"):
        figure = page[page.index(f'id="{chart}"') :]
        figure = figure[: figure.index("</figure>")]
        assert figure.count("<polyline") == 2, f"{chart}: champion and challenger overlaid"
    importance = page[page.index('id="importance"') :]
    importance = importance[: importance.index("</section>")]
    assert importance.count('class="bar') >= 5
    assert re.search(r"mean \|contribution\| over [1-9][\d,]* holdout rows", importance)
    side = page[page.index('id="side-by-side"') :]
    assert "Champion v1" in side and "Challenger v2" in side and "Promote v2 to champion" in side
    assert "roc_auc" in side
    assert side.count('<dd class="split">by time</dd>') == 2, "each version says how its rows were split"


def test_the_drift_panel_marks_what_moves_with_time_and_warns_only_on_the_rest(desk: Desk) -> None:
    registry = registry_for(desk.training)
    champion = registry.verified_champion("churn")
    registry.log_drift(
        champion,
        {"tenure_days": 1.5, "orders_count_90d": 0.4, "days_since_last_order": 0.35, "open_deals_count": 0.05},
        span_psi={"tenure_days": 0.8, "orders_count_90d": 0.02, "days_since_last_order": 0.3},
        worst=0.4,
    )
    scientist = desk.client(Role.DATA_SCIENTIST)
    page = scientist.get(f"{WEB_PREFIX}/models/churn").text
    panel = page[page.index('id="drift"') :]
    panel = panel[: panel.index("</section>")]
    bars = dict(re.findall(r'text-anchor="end">([^<]+)</text><rect class="([^"]+)"', panel))
    assert bars == {
        "tenure_days (moves with time)": "bar",  # an age: older by construction
        "orders_count_90d": "bar warn",  # still over the training history, moved now
        "days_since_last_order (moves with time)": "bar",  # moved as much over such a span before
        "open_deals_count": "bar",  # below the line
    }
    assert "moves with time" in panel and "raises no alert" in panel
    listing = scientist.get(f"{WEB_PREFIX}/models").text
    assert "0.400" in listing and "1.500" not in listing, "the list shows the worst the calendar does not explain"


def test_promote_and_rollback_run_as_operator_jobs_and_move_the_alias(desk: Desk) -> None:
    scientist = desk.client(Role.DATA_SCIENTIST)
    registry = registry_for(desk.training)
    token = CSRF.search(scientist.get(f"{WEB_PREFIX}/models/churn").text)
    assert token is not None
    output = _run_job(desk, scientist, "/models/churn/promote", {"csrf": token.group(1), "version": "2"})
    assert "champion moved from v1 to v2" in output
    assert registry.champion_version("churn") == "2"
    page = scientist.get(f"{WEB_PREFIX}/models/churn").text
    assert "Champion v2" in page and "promoted by hand" in page

    output = _run_job(desk, scientist, "/models/churn/rollback", {"csrf": token.group(1)})
    assert "from v2 to v1" in output and registry.champion_version("churn") == "1"


def test_hand_promotion_is_refused_where_the_version_lost_on_the_same_holdout(desk: Desk) -> None:
    registry = registry_for(desk.training)
    assert registry.champion_version("churn") == "1"
    challenger = registry.version("churn", "2")
    own = challenger.holdout["roc_auc"]
    # As if v1 had beaten it on v2's holdout: the figure a run records when it meets a champion.
    registry.client.log_metric(challenger.run_id, f"{CHAMPION_HOLDOUT_PREFIX}roc_auc", own + 0.05)
    with pytest.raises(PromotionRefusedError, match="promote with force"):
        registry.promote("churn", "2")
    with pytest.raises(PromotionRefusedError, match="already the champion"):
        registry.promote("churn", "1")
    done = registry.promote("churn", "2", force=True)
    assert (done.from_version, done.to_version) == ("1", "2")
    registry.rollback("churn")


def test_model_pages_are_for_data_scientists_and_escape_registry_text(desk: Desk) -> None:
    rep = desk.client(Role.SALES_REP)
    assert rep.get(f"{WEB_PREFIX}/models/churn").status_code == 403
    token = CSRF.search(rep.get(f"{WEB_PREFIX}/segments").text)
    assert token is not None
    assert rep.post(f"{WEB_PREFIX}/models/churn/rollback", data={"csrf": token.group(1)}).status_code == 403

    registry_for(desk.training).client.set_model_version_tag("churn", "1", REASON_TAG, PAYLOAD)  # a registry writer
    page = desk.client(Role.DATA_SCIENTIST).get(f"{WEB_PREFIX}/models/churn").text
    assert PAYLOAD not in page and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page


def test_retrain_runs_the_training_command_and_registers_a_new_version(desk: Desk) -> None:
    scientist = desk.client(Role.DATA_SCIENTIST)
    token = CSRF.search(scientist.get(f"{WEB_PREFIX}/models/churn").text)
    assert token is not None
    output = _run_job(desk, scientist, "/models/churn/retrain", {"csrf": token.group(1)})
    assert "churn v3" in output, output[-2000:]
    page = scientist.get(f"{WEB_PREFIX}/models/churn").text
    assert "3 versions" in page
    unknown = scientist.post(f"{WEB_PREFIX}/models/nonesuch/retrain", data={"csrf": token.group(1)})
    assert unknown.status_code == 404


def test_a_model_has_one_job_at_a_time_and_a_refusal_is_told(desk: Desk) -> None:
    scientist = desk.client(Role.DATA_SCIENTIST)
    token = CSRF.search(scientist.get(f"{WEB_PREFIX}/models/churn").text)
    assert token is not None
    queued = scientist.post(f"{WEB_PREFIX}/models/churn/retrain", data={"csrf": token.group(1)})
    assert queued.status_code == 303
    second = scientist.post(f"{WEB_PREFIX}/models/churn/rollback", data={"csrf": token.group(1)})
    assert second.status_code == 409 and "already has a job" in second.text
    job_id = int(queued.headers["location"].rsplit("job=", 1)[1])
    assert desk.client(Role.SALES_REP).get(f"{WEB_PREFIX}/models/jobs/{job_id}").status_code == 403
    # Withdrawn before a worker took it: the worker skips a job that is no longer queued.
    with desk.worker_engine.begin() as connection:
        connection.execute(update(Job).where(Job.id == job_id).values(status="failed", message="withdrawn"))
    assert desk.work() == 1
    assert scientist.get(f"{WEB_PREFIX}/models/jobs/{job_id}").json()["message"] == "withdrawn"

    champion = registry_for(desk.training).champion_version("churn")
    refused = scientist.post(
        f"{WEB_PREFIX}/models/churn/promote", data={"csrf": token.group(1), "version": str(champion)}
    )
    assert refused.status_code == 303, "the model is free again"
    desk.work()
    told = scientist.get(f"{WEB_PREFIX}/models/jobs/{refused.headers['location'].rsplit('job=', 1)[1]}").json()
    assert told["status"] == "failed" and "already the champion" in told["message"]
    assert "Traceback" not in told["output"] + told["message"]
    assert registry_for(desk.training).champion_version("churn") == champion


def test_the_model_page_says_whether_the_scores_came_true(desk: Desk) -> None:
    from training.outcome_check import BandOutcome, MonthOutcome, OutcomeCheck

    registry = registry_for(desk.training)
    champion = registry.verified_champion("churn")
    scientist = desk.client(Role.DATA_SCIENTIST)
    before = scientist.get(f"{WEB_PREFIX}/models/churn").text
    assert "crm-intel models outcomes churn" in before, "not checked yet: the page says how"
    months = [
        MonthOutcome("2026-06", 812, 203, 0.84, {"1": 812}, [BandOutcome("low", 500, 0.08, 0.07)]),
        MonthOutcome("2026-07", 790, 260, 0.71, {"1": 790}, [BandOutcome("<b>high</b>", 290, 0.61, 0.55)]),
    ]
    checked = OutcomeCheck("churn", 90, 0.86, 0.05, months, datetime(2026, 8, 3))
    registry.log_outcome_check(champion, checked.as_document())
    page = scientist.get(f"{WEB_PREFIX}/models/churn").text
    panel = page[page.index('id="outcomes"') :]
    panel = panel[: panel.index("</section>")]
    assert "2026-06-01" in panel and "0.840" in panel and "0.710" in panel and "0.860" in panel
    assert 'role="alert"' in panel and "live ROC-AUC 0.710 in 2026-07 is below the holdout" in panel
    assert "61% / 55%" in panel
    assert "<b>high</b>" not in panel and "&lt;b&gt;high&lt;/b&gt;" in panel, "registry text is escaped"
