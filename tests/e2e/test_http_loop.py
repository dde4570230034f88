"""The whole loop over HTTP against a real `crm-intel serve` (BentoML), with no mocks:
generated CRM -> features in Feast -> churn trained in MLflow -> served -> written back."""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from select import select as wait_for_io
from typing import Any

import httpx
import polars as pl
import pytest
from mlflow import MlflowClient
from sqlalchemy import create_engine, func, select

from crm_core.entities import Contact, Prediction, User
from crm_core.exports import export_crm
from features.snapshots import build_snapshots
from tests.conftest import CLI, PRODUCTION_REDIS_DATABASE, DataHome, production_services
from tests.e2e.server import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass(frozen=True)
class Server:
    url: str
    home: DataHome

    def token(self, role: str) -> str:
        """Sign in over HTTP as the demo user of `role` (logins written by demo-data)."""
        logins = json.loads((self.home.path / "demo_logins.json").read_text())
        login = next(entry for entry in logins if entry["role"] == role)
        response = httpx.post(
            f"{self.url}/api/auth/login", json={"email": login["email"], "password": login["password"]}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    @property
    def log(self) -> str:
        """What the server has written so far (it logs to the root beside its data home)."""
        return (self.home.path.parent / "server.log").read_text(errors="replace")

    def contacts_owned_by(self, email: str) -> tuple[list[int], list[int]]:
        """(contacts the user owns, contacts they do not)."""
        engine = create_engine(self.home.database_url)
        try:
            with engine.connect() as connection:
                owner = select(User.id).where(User.email == email).scalar_subquery()
                owned = connection.execute(select(Contact.id).where(Contact.owner_id == owner)).scalars().all()
                others = connection.execute(select(Contact.id).where(Contact.owner_id != owner)).scalars().all()
        finally:
            engine.dispose()
        return list(owned), list(others)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=self.home.env(), capture_output=True, text=True, timeout=600, check=False
        )

    def prediction_count(self, *contact_ids: int) -> int:
        engine = create_engine(self.home.database_url)
        try:
            with engine.connect() as connection:
                query = select(func.count()).select_from(Prediction).where(Prediction.contact_id.in_(contact_ids))
                return int(connection.execute(query).scalar_one())
        finally:
            engine.dispose()

    def population_example(self, model_name: str) -> tuple[int, int, int]:
        """(two contacts of the model's population at the newest snapshot, the lowest-numbered
        contact outside it that once engaged: a lapsed one), as the feature build wrote them."""
        offline = self.home.path / "feast" / "offline"
        written = pl.read_parquet(offline / "model_populations.parquet")
        members = written.filter(pl.col("model_name") == model_name)["contact_id"].drop_nulls().sort()
        snapshots = pl.read_parquet(offline / "contact_features.parquet")
        engaged_once = snapshots.filter(
            (pl.col("event_timestamp") == pl.col("event_timestamp").max())
            & pl.col("days_since_last_activity").is_not_null()
            & ~pl.col("contact_id").is_in(members.implode())
        )["contact_id"]
        return int(members[0]), int(members[1]), int(engaged_once.min())

    def champion_version(self) -> str:
        uri = self.home.tracking_uri
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return str(client.get_model_version_by_alias("churn", "champion").version)


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("production", marks=[pytest.mark.postgres, pytest.mark.redis])]
)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A generated CRM with features published but no model yet, served over HTTP: once on the
    embedded default, once on the production profile (PostgreSQL for the CRM and MLflow, Redis
    for the online store)."""
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with ExitStack() as stack:
        services = {}
        if request.param == "production":
            admin = request.getfixturevalue("postgres_admin")
            services = stack.enter_context(production_services(admin, redis_database=PRODUCTION_REDIS_DATABASE))
        home = DataHome(root / "var", services=services)
        for step in (["demo-data", "--contacts", "2000", "--seed", "3"], ["build-features"]):
            done = home.cli(*step)
            assert done.returncode == 0, done.stdout + done.stderr
        if request.param == "production":
            embedded = [home.path / "crm.db", home.path / "feast" / "online.db", home.path / "online" / "features.db"]
            assert not any(path.exists() for path in embedded), "nothing on the production profile is a file"
        url = stack.enter_context(serving(home, root))
        yield Server(url=url, home=home)


def test_score_reaches_the_profile_over_http(server: Server) -> None:
    predict = f"{server.url}/predict/churn"
    admin = server.auth("admin")

    assert httpx.post(predict, json={"contact_ids": [1]}, timeout=30).status_code == 401
    before_training = httpx.post(predict, json={"contact_ids": [1]}, headers=admin, timeout=30)
    assert before_training.status_code == 503
    assert "crm-intel train churn" in before_training.text

    trained = server.home.cli("train", "churn")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    champion = server.champion_version()

    member, other_member, lapsed = server.population_example("churn")
    assert server.prediction_count(member, other_member) == 0
    scored = httpx.post(predict, json={"contact_ids": [member, other_member]}, headers=admin, timeout=60)
    assert scored.status_code == 200, scored.text
    body = scored.json()
    assert (body["model"], body["version"], body["written"]) == ("churn", champion, 2)
    assert [p["contact_id"] for p in body["predictions"]] == [member, other_member] and body["unscored"] == []
    assert all(0.0 <= p["score"] <= 1.0 and len(p["top_factors"]) == 3 for p in body["predictions"])
    assert server.prediction_count(member, other_member) == 2, "the new prediction rows are in the CRM"

    again = httpx.post(predict, json={"contact_ids": [other_member, member]}, headers=admin, timeout=60).json()
    assert again["written"] == 0 and server.prediction_count(member, other_member) == 2, "re-scoring adds nothing"

    profile = httpx.get(f"{server.url}/api/contacts/{member}", headers=admin, timeout=30).json()
    churn = next(score for score in profile["scores"] if score["model"] == "churn")
    assert churn["version"] == champion
    assert churn["score"] == pytest.approx(body["predictions"][0]["score"])

    # A customer who lapsed long ago is outside the population the model learnt from: online it
    # gets its reason, not a score, and the record shows the same.
    online = httpx.post(predict, json={"contact_ids": [lapsed]}, headers=admin, timeout=60).json()
    assert online["predictions"] == [] and server.prediction_count(lapsed) == 0
    assert [(u["contact_id"], u["state"]) for u in online["unscored"]] == [(lapsed, "already lapsed")]
    stated = httpx.get(f"{server.url}/api/contacts/{lapsed}", headers=admin, timeout=30).json()
    assert "churn" not in {s["model"] for s in stated["scores"]}
    assert [(u["model"], u["state"]) for u in stated["unscored"]] == [("churn", "already lapsed")]

    batch = server.home.cli("score", "churn")
    assert batch.returncode == 0, batch.stdout + batch.stderr
    counts = re.search(
        r"([\d,]+) contacts scored, ([\d,]+) predictions written, ([\d,]+) already present, 0 rejected, "
        r"([\d,]+) outside the population",
        " ".join(batch.stdout.split()),
    )
    assert counts is not None, batch.stdout
    scored_count, written_count, present, outside = (int(part.replace(",", "")) for part in counts.groups())
    assert scored_count + outside == 2000 and outside > 0
    assert (present, written_count) == (2, scored_count - 2), "the two scored online were already there"
    after = httpx.get(f"{server.url}/api/contacts/{lapsed}", headers=admin, timeout=30).json()
    assert [(u["model"], u["state"]) for u in after["unscored"]] == [("churn", "already lapsed")]

    unknown = httpx.post(predict, json={"contact_ids": [member, 987654]}, headers=admin, timeout=30)
    assert unknown.status_code == 404
    assert "987654" in unknown.text
    assert server.prediction_count(member) == 1, "a request with an unknown id writes nothing"

    # A sales rep scores and reads their own contacts; everyone else's answer 404.
    rep_email = next(
        e["email"] for e in json.loads((server.home.path / "demo_logins.json").read_text()) if e["role"] == "sales_rep"
    )
    owned, others = server.contacts_owned_by(rep_email)
    rep = server.auth("sales_rep")
    assert httpx.post(predict, json={"contact_ids": owned[:2]}, headers=rep, timeout=60).status_code == 200
    assert httpx.get(f"{server.url}/api/contacts/{owned[0]}", headers=rep, timeout=30).status_code == 200
    assert httpx.post(predict, json={"contact_ids": [others[0]]}, headers=rep, timeout=30).status_code == 404
    assert httpx.get(f"{server.url}/api/contacts/{others[0]}", headers=rep, timeout=30).status_code == 404
    marketer = httpx.post(predict, json={"contact_ids": [1]}, headers=server.auth("marketer"), timeout=30)
    assert marketer.status_code == 403


def test_lead_scores_and_recommendations_reach_the_record_over_http(server: Server) -> None:
    admin = server.auth("admin")
    recommend = f"{server.url}/predict/recommend"
    assert httpx.post(recommend, json={"contact_ids": [1]}, headers=admin, timeout=30).status_code == 503

    for model in ("lead", "recommend"):
        trained = server.home.cli("train", model)
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert "promoted to champion" in trained.stdout

    lead_contact, _, not_a_lead = server.population_example("lead")
    lead = httpx.post(
        f"{server.url}/predict/lead", json={"contact_ids": [lead_contact, not_a_lead]}, headers=admin, timeout=60
    )
    assert lead.status_code == 200, lead.text
    assert lead.json()["model"] == "lead" and 0.0 <= lead.json()["predictions"][0]["score"] <= 1.0
    assert [(u["contact_id"], u["state"]) for u in lead.json()["unscored"]] == [(not_a_lead, "not a lead")]

    offered = httpx.post(recommend, json={"contact_ids": [1, 2]}, headers=admin, timeout=60)
    assert offered.status_code == 200, offered.text
    body = offered.json()
    assert body["model"] == "recommend" and body["written"] == 20
    assert [entry["contact_id"] for entry in body["recommendations"]] == [1, 2]
    assert [item["rank"] for item in body["recommendations"][0]["items"]] == list(range(1, 11))
    again = httpx.post(recommend, json={"contact_ids": [2, 1]}, headers=admin, timeout=60).json()
    assert again["written"] == 0, "the same lists are not written twice"

    record = httpx.get(f"{server.url}/api/contacts/1/360", headers=admin, timeout=30).json()
    shown = [(r["product_id"], r["rank"]) for r in record["recommendations"]]
    assert shown == [(item["product_id"], item["rank"]) for item in body["recommendations"][0]["items"]]
    assert all(r["reason_text"] for r in record["recommendations"])
    scored = httpx.get(f"{server.url}/api/contacts/{lead_contact}/360", headers=admin, timeout=30).json()
    assert [s["version"] for s in scored["scores"] if s["model"] == "lead"] == [lead.json()["version"]]
    stated = httpx.get(f"{server.url}/api/contacts/{not_a_lead}/360", headers=admin, timeout=30).json()
    assert [(u["model"], u["state"]) for u in stated["unscored"]] == [("lead", "not a lead")]

    marketer = httpx.post(recommend, json={"contact_ids": [1]}, headers=server.auth("marketer"), timeout=30)
    assert marketer.status_code == 403, "marketers read offers; they do not generate them"


def test_segments_are_built_and_looked_up_over_http(server: Server) -> None:
    marketer = server.auth("marketer")
    trained = server.home.cli("train", "churn")  # champion, or a challenger if one exists already
    assert trained.returncode == 0, trained.stdout + trained.stderr
    scored = server.home.cli("score", "churn")
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "behaviour clusters" in scored.stdout
    clusters = httpx.get(f"{server.url}/api/segments", headers=marketer, timeout=30).json()
    assert [s["kind"] for s in clusters].count("cluster") == 5
    assert sum(s["member_count"] for s in clusters if s["kind"] == "cluster") == 2_000

    created = httpx.post(
        f"{server.url}/api/segments",
        json={"name": "At risk", "scores": [{"model": "churn", "bands": ["high"]}]},
        headers=marketer,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["member_count"] > 0
    page = httpx.get(
        f"{server.url}/api/segments/{segment['id']}/members", params={"limit": 200}, headers=marketer, timeout=30
    ).json()
    assert len(page["items"]) == min(200, segment["member_count"])
    assert all(item["email"] is None or "***" in item["email"] for item in page["items"]), "masked for marketers"


def _champion_of_churn(server: Server) -> str:
    try:
        return server.champion_version()
    except Exception:  # no champion yet in this module's run: train one
        trained = server.home.cli("train", "churn")
        assert trained.returncode == 0, trained.stdout + trained.stderr
        return server.champion_version()


def _churn_score_after(
    server: Server, contact_id: int, since: str, admin: dict[str, str]
) -> tuple[dict[str, Any], float]:
    """Poll the record until it shows a churn score computed after `since`; (score, seconds)."""
    began = time.monotonic()
    while time.monotonic() - began < LIVE_SCORE_PATIENCE_SECONDS:
        record = httpx.get(f"{server.url}/api/contacts/{contact_id}", headers=admin, timeout=30).json()
        fresh = [s for s in record["scores"] if s["model"] == "churn" and s["feature_timestamp"] >= since]
        if fresh:
            return fresh[0], time.monotonic() - began
        time.sleep(0.05)
    pytest.fail(
        f"no live churn score on contact {contact_id} after {LIVE_SCORE_PATIENCE_SECONDS} s:\n{server.log[-3000:]}"
    )


# The goal is 2 s (measured in `make bench`); the test waits longer so a loaded CI
# machine fails it only when the rescore never comes.
LIVE_SCORE_PATIENCE_SECONDS = 30.0


def test_a_new_contacts_logged_calls_reach_its_record_as_a_live_score(server: Server) -> None:
    """Create a contact, log three calls over the API: the worker rescores it without anyone
    running a batch job, the record shows the champion's score with its reasons, and those
    reasons' values are what the batch build computes for that contact at the same moment."""
    champion = _champion_of_churn(server)
    admin = server.auth("admin")
    created = httpx.post(
        f"{server.url}/api/contacts",
        json={"first_name": "Eva", "last_name": "Silva", "lifecycle_stage": "lead"},
        headers=admin,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    since = created.json()["created_at"]
    calls = [{"contact_id": contact_id, "type": "call", "channel": "phone", "occurred_at": since} for _ in range(3)]
    logged = httpx.post(f"{server.url}/api/activities/batch", json={"activities": calls}, headers=admin, timeout=30)
    assert logged.status_code == 200 and logged.json()["inserted"] == 3, logged.text

    score, seconds = _churn_score_after(server, contact_id, since, admin)
    print(f"live churn score on the record {seconds:.2f} s after the calls were logged")
    assert score["version"] == champion and len(score["top_factors"]) == 3
    as_of = datetime.fromisoformat(score["feature_timestamp"]).astimezone(UTC).replace(tzinfo=None)
    engine = create_engine(server.home.database_url)
    try:
        batch = build_snapshots(export_crm(engine), [as_of]).filter(pl.col("contact_id") == contact_id)
    finally:
        engine.dispose()
    assert batch["activities_count_30d"].item() == 3
    for factor in score["top_factors"]:
        assert factor["value"] == pytest.approx(batch[factor["feature"]].item()), factor


@pytest.mark.parametrize(
    "payload",
    [{"contact_ids": "x"}, {}, {"contact_ids": []}, {"contact_ids": [1], "extra": True}, {"contact_ids": ["one"]}],
)
def test_malformed_prediction_requests_get_400_naming_the_field(server: Server, payload: object) -> None:
    """The prediction endpoints are BentoML API methods: BentoML validates their typed input
    and answers 400 with where and why (never the value sent), and the server logs one line
    for it, not a traceback."""
    response = httpx.post(f"{server.url}/predict/churn", json=payload, headers=server.auth("admin"), timeout=30)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert "validation error for ContactsInput" in answer["error"]
    assert answer["detail"][0]["loc"] in ([], ["contact_ids"], ["contact_ids", 0], ["extra"])
    assert "input" not in answer["detail"][0], "the value sent is not echoed"
    assert "refused a request body on /predict/churn" in server.log
    assert "Traceback" not in server.log


def test_unknown_and_malformed_contact_ids_on_the_crm_api(server: Server) -> None:
    admin = server.auth("admin")
    missing = httpx.get(f"{server.url}/api/contacts/987654", headers=admin, timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "contact 987654 not found", "id": 987654}
    assert httpx.get(f"{server.url}/api/contacts/abc", headers=admin, timeout=30).status_code == 422
    not_json = httpx.post(
        f"{server.url}/predict/churn",
        content=b"{not json",
        headers={"content-type": "application/json", **admin},
        timeout=30,
    )
    assert not_json.status_code == 400
    assert not_json.json()["detail"][0]["type"] == "json_invalid"


class _TouchesAFile:
    """Unpickling this creates `path`: the marker of a server that deserialised a request body."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    with open(path, "w"):
        pass


@pytest.mark.parametrize("content_type", ["application/octet-stream", "application/x-python-pickle", ""])
def test_prediction_endpoints_refuse_pickled_bodies(server: Server, content_type: str, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    body = pickle.dumps(_TouchesAFile(str(marker)))
    headers = {**server.auth("admin"), "content-type": content_type}
    for route in ("churn", "lead", "recommend"):
        response = httpx.post(f"{server.url}/predict/{route}", content=body, headers=headers, timeout=30)
        assert response.status_code == 415, response.text
        assert "application/json" in response.json()["detail"]
    assert not marker.exists()


def _stream_until_answered(url: str, path: str, *, declare_length: bool, total: int = 200 * 2**20) -> tuple[int, int]:
    """Send a `total`-byte JSON body to `path` a megabyte at a time until the server answers;
    returns (status, bytes sent before the answer)."""
    host, port = url.removeprefix("http://").split(":")
    chunk = b"[" + b"1," * (2**19 - 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        framing = f"Content-Length: {total}" if declare_length else "Transfer-Encoding: chunked"
        kind = "application/x-www-form-urlencoded" if path.startswith("/app/") else "application/json"
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {kind}\r\n{framing}\r\n\r\n"
        connection.sendall(head.encode())
        sent = 0
        while sent < total:
            readable, _, _ = wait_for_io([connection], [], [], 0)
            if readable:
                break
            piece = chunk if declare_length else f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            try:
                connection.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = connection.recv(4096).decode(errors="replace")
    return int(answer.split(" ", 2)[1]), sent


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/predict/churn", "/app/login"])
def test_a_200_mb_body_is_refused_while_it_streams(server: Server, path: str, declare_length: bool) -> None:
    """The attack: a 200 MB anonymous body to the sign-in route was buffered and parsed (23 s)."""
    status, sent = _stream_until_answered(server.url, path, declare_length=declare_length)
    assert status == 413
    assert sent < 40 * 2**20, f"the server read {sent / 2**20:.0f} MiB before refusing"
    assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200


@pytest.mark.parametrize("server", ["embedded"], indirect=True)
def test_a_broken_online_store_is_a_503_with_its_reason_not_ready(server: Server, tmp_path: Path) -> None:
    """The finding: a corrupted online store gave bare 500s while /readyz said ready."""
    assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200
    uri = server.home.tracking_uri
    if not MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions("name = 'churn'"):
        trained = server.home.cli("train", "churn")
        assert trained.returncode == 0, trained.stdout + trained.stderr
    store = server.home.path / "online" / "features.db"
    aside = tmp_path / "features.db.aside"
    os.replace(store, aside)
    try:
        store.write_bytes(os.urandom(64 * 1024))
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert "online store could not be read" in ready.text
        scored = httpx.post(
            f"{server.url}/predict/churn", json={"contact_ids": [1]}, headers=server.auth("admin"), timeout=30
        )
        assert scored.status_code == 503, scored.text
        assert "online store could not be read" in scored.text
    finally:
        os.replace(aside, store)
    assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200


def test_the_server_serves_no_third_party_page_and_no_metrics(server: Server) -> None:
    """The finding: an anonymous /metrics labelled by raw path, and BentoML's root page loading
    Google Tag Manager with no CSP."""
    for path in ("/metrics", f"/metrics?x={os.getpid()}"):
        assert httpx.get(f"{server.url}{path}", timeout=30).status_code == 404
    root = httpx.get(f"{server.url}/", timeout=30)
    assert root.status_code == 303 and root.headers["location"] == "/app/"
    for path in ("/readyz", "/livez", "/api/health", "/app/login", "/api/openapi.json", "/docs.json"):
        response = httpx.get(f"{server.url}{path}", timeout=30)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, path
        assert "googletagmanager" not in response.text
    for docs in ("/api/docs", "/predict/docs"):
        assert httpx.get(f"{server.url}{docs}", timeout=30).status_code == 404


def test_an_import_too_large_for_a_request_runs_as_a_job_over_http(server: Server) -> None:
    """Finding 11: past about 110k rows an import outlived its request (504, nothing
    committed). The file is queued; the worker `serve` started loads it; the job holds the
    report. 120k rows, on the job queue's file (embedded) and on Redis (production)."""
    rows = 120_000
    body = "first_name,last_name,email\n" + "".join(f"Job{n},Row{n},job{n}@queue.test\n" for n in range(rows))
    headers = server.auth("sales_rep")
    files = {"file": ("big.csv", body.encode(), "text/csv")}
    queued = httpx.post(f"{server.url}/api/imports/contacts", files=files, headers=headers, timeout=120)
    assert queued.status_code == 202, queued.text[:300]
    location = queued.headers["location"]
    assert location.startswith(server.url) and location.endswith(f"/api/jobs/{queued.json()['id']}")
    deadline = time.monotonic() + 600
    seen = set()
    while (job := httpx.get(location, headers=headers, timeout=30).json())["status"] in ("queued", "running"):
        seen.add(job["status"])
        assert time.monotonic() < deadline, job
        time.sleep(1)
    assert job["status"] == "succeeded", job["message"]
    assert "running" in seen or "queued" in seen
    assert job["result"]["report"]["inserted"] == rows and job["result"]["rejected_total"] == 0
    engine = create_engine(server.home.database_url)
    try:
        with engine.connect() as connection:
            loaded = connection.execute(select(func.count()).where(Contact.first_name.like("Job%"))).scalar_one()
    finally:
        engine.dispose()
    assert loaded == rows
    stranger = httpx.get(location, headers=server.auth("marketer"), timeout=30)
    assert stranger.status_code == 404, "another user's job is not found"
