"""A company that brings only files and mapping files, through the commands a user runs: its
purchase history as two files (customers with an id and a first-purchase date; orders with an
amount and no products) and a lead list with no dates at all (attributes and a converted flag).
Churn trains on the dated history, split by time; the lead model on the list, split at random
and stratified, as the run says; both score; lapsed customers get the lapsed state, and the list's
leads that never ordered are told so rather than called lapsed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from crm_core.clock import utc_now
from crm_core.db import make_engine
from crm_core.entities import Contact, CurrentScore, PopulationState
from features.catalogue import NEVER_ENGAGED_STATE
from tests.conftest import DataHome

pytestmark = pytest.mark.slow

SEED = 17
CUSTOMERS, LEADS = 700, 1_500
SOURCES = ("Google", "Referral", "Olark Chat", "Direct")

CUSTOMERS_MAPPING = """
kind = "contacts"
[columns]
external_id = "Customer ID"
created_at = "First Purchase"
[fields.created_at]
date_format = "%Y-%m-%d"
"""
ORDERS_MAPPING = """
kind = "orders"
[columns]
external_id = "Invoice"
contact = "Customer ID"
ordered_at = "Date"
total = "Amount"
[fields.ordered_at]
date_format = "%d/%m/%Y %H:%M"
"""
LEADS_MAPPING = """
kind = "contacts"
[columns]
external_id = "Lead Number"
[custom_fields.lead_source]
column = "Lead Source"
type = "choice"
choices = ["Google", "Referral", "Olark Chat", "Direct"]
[custom_fields.total_visits]
column = "TotalVisits"
type = "integer"
[custom_fields.converted]
column = "Converted"
type = "boolean"
"""
MODELS = """
[[model]]
name = "lead"
title = "Lead conversion"
outcome = "field_value"
field = "converted"
value = "true"
history = "snapshot"
meaning = "likely to convert"
custom_fields = ["lead_source", "total_visits"]
"""


def _purchase_history(now: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Customers who buy at their own pace until they stop: some have stopped long ago."""
    rng = np.random.default_rng(SEED)
    customers, orders = [], []
    for number in range(1, CUSTOMERS + 1):
        first = now - timedelta(days=int(rng.integers(120, 720)))
        stops = first + timedelta(days=float(rng.exponential(400)))
        gap_days = float(rng.uniform(10, 60))
        customer = f"C{number:05d}"
        customers.append({"Customer ID": customer, "First Purchase": f"{first:%Y-%m-%d}"})
        at = first
        while at < min(stops, now - timedelta(days=1)):
            amount = round(float(rng.lognormal(3.5, 0.6)), 2)
            orders.append(
                {"Invoice": f"INV{len(orders) + 1:07d}", "Customer ID": customer,
                 "Date": f"{at:%d/%m/%Y %H:%M}", "Amount": f"{amount:.2f}"}
            )  # fmt: skip
            at += timedelta(days=float(rng.exponential(gap_days)) + 1)
    return pl.DataFrame(customers), pl.DataFrame(orders)


def _lead_list() -> pl.DataFrame:
    """A lead list as another CRM exports it: no dates; referrals and many visits convert."""
    rng = np.random.default_rng(SEED + 1)
    source = rng.choice(len(SOURCES), size=LEADS, p=[0.4, 0.15, 0.25, 0.2])
    visits = rng.poisson(4, size=LEADS)
    logit = -1.6 + 1.8 * (source == 1) - 0.6 * (source == 2) + 0.25 * visits
    converted = rng.random(LEADS) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "Lead Number": [f"L{n:06d}" for n in range(LEADS)],
            "Lead Source": [SOURCES[s] for s in source],
            "TotalVisits": [str(v) for v in visits],
            "Converted": ["1" if c else "0" for c in converted],
        }
    )


def _ok(home: DataHome, *args: str, cwd: Path) -> str:
    """The command's output as one line of words: table borders and wrapping taken out."""
    done = home.cli(*args, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.replace("│", " ").split())


def test_a_company_brings_its_history_and_a_lead_list_by_mapping_files_only(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "var")
    home.path.mkdir()
    now = utc_now()
    customers, orders = _purchase_history(now)
    files = {
        "customers.csv": customers,
        "orders.csv": orders,
        "leads.csv": _lead_list(),
    }
    for name, frame in files.items():
        frame.write_csv(tmp_path / name)
    for name, text in (
        ("customers.toml", CUSTOMERS_MAPPING),
        ("orders.toml", ORDERS_MAPPING),
        ("leads.toml", LEADS_MAPPING),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
    (home.path / "models.toml").write_text(MODELS, encoding="utf-8")

    _ok(home, "import", "contacts", "customers.csv", "--mapping", "customers.toml", cwd=tmp_path)
    _ok(home, "import", "orders", "orders.csv", "--mapping", "orders.toml", cwd=tmp_path)
    _ok(home, "import", "contacts", "leads.csv", "--mapping", "leads.toml", cwd=tmp_path)
    _ok(home, "build-features", cwd=tmp_path)
    ready = _ok(home, "models", "readiness", "lead", cwd=tmp_path)
    assert "ready to train" in ready and "random, stratified by the outcome" in ready
    assert "from custom fields: lead_source (4 columns), total_visits" in ready

    churn = _ok(home, "train", "churn", cwd=tmp_path)
    lead = _ok(home, "train", "lead", cwd=tmp_path)
    assert "promoted to champion" in churn and "promoted to champion" in lead
    scored_churn = _ok(home, "score", "churn", cwd=tmp_path)
    scored_lead = _ok(home, "score", "lead", cwd=tmp_path)
    assert "outside the population given their reason" in scored_churn + scored_lead

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=home.tracking_uri, registry_uri=home.tracking_uri)
    lead_run = client.get_run(client.get_model_version_by_alias("lead", "champion").run_id)
    assert lead_run.data.params["split"].startswith("random, stratified by the outcome (the history has no dates)")
    assert float(lead_run.data.metrics["holdout_roc_auc"]) > 0.65, "the list's source and visits tell conversion"
    churn_run = client.get_run(client.get_model_version_by_alias("churn", "champion").run_id)
    assert churn_run.data.params["split"] == "by time" and "holdout_date" in churn_run.data.params

    engine = make_engine(home.database_url)
    try:
        with engine.connect() as connection:
            people = dict(connection.execute(select(Contact.external_id, Contact.id)).tuples().all())
            states = {
                (model, contact): state
                for model, contact, state in connection.execute(
                    select(PopulationState.model_name, PopulationState.contact_id, PopulationState.state)
                ).tuples()
            }
            scored = set(connection.execute(select(CurrentScore.model_name, CurrentScore.contact_id)).tuples())
    finally:
        engine.dispose()
    assert len(people) == CUSTOMERS + LEADS

    last_order = orders.group_by("Customer ID").agg(
        pl.col("Date").str.to_datetime("%d/%m/%Y %H:%M").max().alias("last")
    )
    lapsed = last_order.filter(pl.col("last") < now - timedelta(days=120))["Customer ID"].to_list()
    active = last_order.filter(pl.col("last") > now - timedelta(days=30))["Customer ID"].to_list()
    assert lapsed and active
    assert all(states.get(("churn", people[c])) == "already lapsed" for c in lapsed)
    assert all(("churn", people[c]) in scored for c in active), "recent buyers carry a churn score"
    leads = _lead_list()
    open_leads = leads.filter(pl.col("Converted") == "0")["Lead Number"].to_list()
    won = leads.filter(pl.col("Converted") == "1")["Lead Number"].to_list()
    assert all(("lead", people[n]) in scored for n in open_leads), "every open lead of the list is scored"
    assert all(states.get(("lead", people[n])) == "converted already 'true', or not recorded" for n in won)
    assert all(states.get(("churn", people[n])) == NEVER_ENGAGED_STATE for n in open_leads[:50])
    assert all(("lead", people[c]) not in scored for c in customers["Customer ID"].to_list()), (
        "customers of the other file were never in the list the lead model learnt from"
    )
