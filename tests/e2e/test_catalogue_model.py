"""A model added by one catalogue entry, with no other change: "upsell, an order in the next 60
days" is declared in the data home's `models.toml`, then trained, gated, batch-scored, served at
its own route, offered in the segment builder and shown on the record and the model pages, all
through the commands and the server a user runs. Removing the entry takes it off the pages and
the prediction API again."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from crm_core.entities import Prediction
from features.catalogue_file import CATALOGUE_FILE
from tests.conftest import DataHome
from tests.e2e.server import serving

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UPSELL = """
[[model]]
name = "upsell"
title = "Upsell"
outcome = "order_placed"
horizon_days = 60
meaning = "likely to order again in the next 60 days"
worklist = "My upsell prospects"
features = ["orders_count_90d", "orders_count_365d", "days_since_last_order", "order_value_365d",
            "avg_order_value_365d", "activities_count_30d", "emails_opened_count_30d", "tenure_days",
            "order_value_lifetime"]
population = [{ feature = "order_value_lifetime", op = ">", value = 0 }]
"""
CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')


def _ok(home: DataHome, *args: str) -> str:
    done = home.cli(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def _signed_in(url: str, home: DataHome, role: str) -> Iterator[httpx.Client]:
    login = next(entry for entry in json.loads((home.path / "demo_logins.json").read_text()) if entry["role"] == role)
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/app/login", data={"email": login["email"], "password": login["password"]})
        assert response.status_code == 303, response.text
        yield client


def _bearer(url: str, home: DataHome, role: str) -> dict[str, str]:
    login = next(entry for entry in json.loads((home.path / "demo_logins.json").read_text()) if entry["role"] == role)
    response = httpx.post(f"{url}/api/auth/login", json={"email": login["email"], "password": login["password"]})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _upsell_scored(home: DataHome) -> tuple[int, int]:
    """(contacts with an upsell score, one of them)."""
    engine = create_engine(home.database_url)
    try:
        with engine.connect() as connection:
            upsell = Prediction.model_name == "upsell"
            count = connection.execute(select(func.count(func.distinct(Prediction.contact_id))).where(upsell))
            first = connection.execute(select(Prediction.contact_id).where(upsell).order_by(Prediction.contact_id))
            return int(count.scalar_one()), int(first.scalars().first() or 0)
    finally:
        engine.dispose()


def test_a_scorer_added_by_one_catalogue_entry_runs_the_whole_loop(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "var")
    home.path.mkdir()
    catalogue_file = home.path / CATALOGUE_FILE
    catalogue_file.write_text(UPSELL, encoding="utf-8")
    _ok(home, "demo-data", "--contacts", "1500", "--seed", "5")
    _ok(home, "build-features")

    trained = _ok(home, "train", "upsell")
    assert "upsell" in trained and "promot" in trained, "the run is gated and says its verdict"
    scored = _ok(home, "score", "upsell")
    assert re.search(r"upsell v1: [\d,]+ contacts scored", scored), scored
    contacts, one = _upsell_scored(home)
    assert contacts > 0 and one > 0
    status = _ok(home, "models", "status")
    assert "upsell" in status

    with ExitStack() as stack:
        url = stack.enter_context(serving(home, tmp_path))
        documented = httpx.get(f"{url}/docs.json", timeout=30).json()["paths"]
        upsell = documented["/predict/upsell"]["post"]
        assert upsell["description"].startswith("Upsell: likely to order again in the next 60 days")
        typed = upsell["requestBody"]["content"]["application/json"]["schema"]
        assert typed["title"] == "ContactsInput" and typed["additionalProperties"] is False
        predicted = httpx.post(
            f"{url}/predict/upsell", json={"contact_ids": [one]}, headers=_bearer(url, home, "admin"), timeout=60
        )
        assert predicted.status_code == 200, predicted.text
        answer = predicted.json()
        assert answer["model"] == "upsell" and answer["predictions"][0]["contact_id"] == one
        assert 0.0 <= answer["predictions"][0]["score"] <= 1.0

        pages = stack.enter_context(_signed_in(url, home, "admin"))
        lists = pages.get("/app/").text
        assert 'id="list-upsell"' in lists and "My upsell prospects" in lists
        assert "likely to order again in the next 60 days" in lists
        record = pages.get(f"/app/contacts/{one}").text
        card = record[record.index('id="score-upsell"') :]
        assert "Upsell" in card[:400]
        builder = pages.get("/app/segments").text
        assert "<legend>Upsell</legend>" in builder and 'name="upsell_bands"' in builder
        preview = pages.get("/app/segments/preview", params={"upsell_min": "0"}).json()
        assert preview["size"] >= contacts - 1 and [e["model"] for e in preview["expected"]] == ["upsell"]
        token = CSRF.search(builder)
        assert token
        saved = pages.post(
            "/app/segments",
            data={"csrf": token.group(1), "name": "Upsell prospects", "upsell_min": "0"},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
        segment = pages.get(saved.headers["location"]).text
        assert '<th class="num">Upsell</th>' in segment

        models = stack.enter_context(_signed_in(url, home, "data_scientist"))
        listing = models.get("/app/models").text
        assert "/app/models/upsell" in listing
        page = models.get("/app/models/upsell")
        assert page.status_code == 200 and "upsell" in page.text and "v1" in page.text

    catalogue_file.unlink()
    with ExitStack() as stack:
        url = stack.enter_context(serving(home, tmp_path))
        gone = httpx.post(
            f"{url}/predict/upsell", json={"contact_ids": [one]}, headers=_bearer(url, home, "admin"), timeout=60
        )
        assert gone.status_code == 404, "a model taken out of the catalogue is no longer served"
        pages = stack.enter_context(_signed_in(url, home, "admin"))
        assert 'id="list-upsell"' not in pages.get("/app/").text
        assert "<legend>Upsell</legend>" not in pages.get("/app/segments").text
        assert 'id="list-churn"' in pages.get("/app/").text, "the catalogue's other models are still listed"
