"""A company's own outcomes, declared as configuration and trained through the one pipeline: on
the generated CRM, a history file (the kind another CRM exports) says when each customer was
marked churned and when each moved to the paid plan; "churn" redefined as "the stage becomes
churned within 90 days" and "lead" as "custom field plan becomes paid" then train like the
built-ins, from labels built point-in-time out of that history, with no code for the company."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import CustomFieldType
from crm_core.exports import export_crm
from crm_core.imports.bulk_records import ImportMapping, import_records
from crm_core.imports.record_kinds import CONTACT_CHANGES
from crm_core.services.custom_fields import define_field
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext
from features.catalogue import Catalogue
from features.catalogue_file import parse_entries
from tests.conftest import own_copy
from training.jobs import train

pytestmark = pytest.mark.slow

ADMIN = Principal.system(Role.ADMIN, "own outcomes test")
LAPSE = timedelta(days=120)  # this company marks a customer churned 120 days after an order with no next one
OWN = """
[[model]]
name = "churn"
title = "Churn risk"
outcome = "stage_reached"
stage = "churned"
horizon_days = 90
meaning = "likely to be marked churned in the next 90 days"

[[model]]
name = "lead"
title = "Paid plan"
outcome = "field_value"
field = "plan"
value = "paid"
horizon_days = 90
meaning = "likely to move to the paid plan"
"""


def _history_file(ctx: AppContext) -> pl.DataFrame:
    """Stage moves from the orders (churned after a lapse, customer again on the next order) and
    plan moves from won deals, as the text columns a file brings."""
    export = export_crm(ctx.engine)
    now = utc_now()
    orders = export.orders.sort("contact_id", "ordered_at").with_columns(
        pl.col("ordered_at").shift(-1).over("contact_id").alias("next_order")
    )
    gap = pl.col("next_order").fill_null(now) - pl.col("ordered_at")
    churned = orders.filter(gap > LAPSE).select(
        "contact_id",
        pl.lit("lifecycle_stage").alias("field"),
        pl.lit("churned").alias("value"),
        (pl.col("ordered_at") + LAPSE).alias("changed_at"),
    )
    back = orders.filter(pl.col("next_order").is_not_null() & (gap > LAPSE)).select(
        "contact_id",
        pl.lit("lifecycle_stage").alias("field"),
        pl.lit("customer").alias("value"),
        pl.col("next_order").alias("changed_at"),
    )
    paid = export.deals.filter(pl.col("status") == "won").select(
        "contact_id",
        pl.lit("custom.plan").alias("field"),
        pl.lit("paid").alias("value"),
        pl.col("closed_at").alias("changed_at"),
    )
    return (
        pl.concat([churned, back, paid])
        .filter(pl.col("changed_at") <= now)
        .select(
            pl.format("G-{}", "contact_id").alias("Customer"),
            pl.col("field").alias("Field"),
            pl.col("value").alias("New value"),
            pl.col("changed_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("Changed"),
        )
    )


@pytest.fixture
def own_crm(generated_crm: AppContext, tmp_path: Path) -> AppContext:
    """The generated CRM copied, its contacts given the ids of the system they came from, a
    `plan` custom field defined, and the company's history file imported."""
    ctx = own_copy(generated_crm, tmp_path / "own")
    with ctx.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE contacts SET external_id = 'G-' || id")
    history = _history_file(ctx)
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        define_field(
            uow,
            ADMIN,
            entity="contact",
            name="plan",
            label="Plan",
            field_type=CustomFieldType.CHOICE,
            choices=["free", "paid"],
            now=utc_now(),
        )
        mapping = ImportMapping(
            {"contact": "Customer", "field": "Field", "value": "New value", "changed_at": "Changed"}
        )
        report = import_records(
            uow, ADMIN, CONTACT_CHANGES, history, mapping=mapping, source="history.csv", now=utc_now()
        )
        uow.commit()
    assert not report.rejected and report.inserted == history.height > 500, report.rejected[:3]
    return ctx


def test_a_companys_own_churn_and_lead_outcomes_train_from_its_history(own_crm: AppContext) -> None:
    catalogue = Catalogue(parse_entries(OWN, "models.toml"))
    export = export_crm(own_crm.engine)
    churn = train("churn", export, own_crm.features, own_crm.training, catalogue=catalogue)
    lead = train("lead", export, own_crm.features, own_crm.training, catalogue=catalogue)

    version = own_crm.registry.version("churn", churn.version)
    assert version.params["label"] == "stage_reached_within_90_days_field_lifecycle_stage_value_churned"
    assert churn.metrics["roc_auc"] > 0.7, "the lapse the history records shows in the order features"
    assert 0.01 < churn.metrics["positive_rate"] < 0.6
    assert own_crm.registry.version("lead", lead.version).params["label"].startswith("field_value_within_90_days")
    assert lead.metrics["roc_auc"] > 0.6, "open deals foretell the plan moves"
