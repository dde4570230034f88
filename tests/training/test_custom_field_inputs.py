"""Custom fields as model inputs, end to end on the generated CRM: a models.toml entry names
them, the feature build values them point-in-time into the snapshots, Feast's service and the
online store carry them, training learns from them, and a field that leaks the outcome is
refused with its reason, unless its dated history shows it was set after the outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import CustomFieldType
from crm_core.exports import CrmExport, export_crm
from crm_core.services.contact_history import append_changes
from crm_core.services.custom_fields import define_field
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app.scoring import score
from crm_intel.context import AppContext
from features.catalogue import BUILT_IN, Catalogue
from features.catalogue_file import CATALOGUE_FILE, parse_entries
from features.online.reader import open_online_reader
from features.pipeline import build_and_publish
from features.populations import PopulationBook
from features.schema import describe
from features.settings import FeatureSettings
from features.snapshots import data_end, snapshot_dates
from features.store import apply_definitions, open_store, service_feature_names
from serving.champion import load_champion
from serving.online import score_contacts
from tests.conftest import own_copy
from training.jobs import train
from training.labels import LABEL, outcome_labels

pytestmark = pytest.mark.slow

ADMIN = Principal.system(Role.ADMIN, "custom inputs test")
CHURN_WITH_FIELDS = """
[[model]]
name = "churn"
title = "Churn risk"
outcome = "goes_quiet"
horizon_days = 90
meaning = "likely to go quiet in the next 90 days"
custom_fields = ["tier", "cancel_reason"]
"""
NARROW_CHURN = """
[[model]]
name = "churn"
title = "Churn risk"
outcome = "goes_quiet"
horizon_days = 90
meaning = "likely to go quiet"
features = ["orders_count_90d", "days_since_last_order"]
"""
TIERS = ("gold", "silver", "bronze")
GONE = timedelta(days=90)


def _define(ctx: AppContext) -> None:
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        for name, kind, choices in (("tier", CustomFieldType.CHOICE, list(TIERS)), ("cancel_reason", "text", None)):
            define_field(
                uow, ADMIN, entity="contact", name=name, label=name.title(),
                field_type=CustomFieldType(kind), choices=choices, now=utc_now(),
            )  # fmt: skip
        uow.commit()


def _tiers(ctx: AppContext, export: CrmExport) -> None:
    """Each contact's tier from its spend before the first snapshot, dated then: a legitimate
    input, known before every training row."""
    first = snapshot_dates(data_end(export), count=ctx.features.snapshot_count, step_days=30)[0]
    spend = (
        export.orders.filter(pl.col("ordered_at") < first)
        .group_by("contact_id")
        .agg(pl.col("total").sum())
        .with_columns(
            pl.when(pl.col("total") > 500).then(pl.lit("gold")).when(pl.col("total") > 100).then(pl.lit("silver"))
            .otherwise(pl.lit("bronze")).alias("tier")
        )
    )  # fmt: skip
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        rows = [
            (c, "custom.tier", tier, first - timedelta(days=1)) for c, tier in spend.select("contact_id", "tier").rows()
        ]
        append_changes(uow, rows)
        uow.commit()
    _set_custom(ctx, dict(spend.select("contact_id", "tier").rows()), "tier")


def _set_custom(ctx: AppContext, values: dict[int, str], field: str) -> None:
    """Current values written straight into the stored records, with no history: what an old
    record, or a file dated only by the contact's creation, holds."""
    with ctx.engine.begin() as connection:
        connection.exec_driver_sql(
            f"UPDATE contacts SET custom = json_set(coalesce(custom, '{{}}'), '$.{field}', ?) WHERE id = ?",
            [(value, contact_id) for contact_id, value in values.items()],
        )


def _churners(export: CrmExport) -> pl.DataFrame:
    """Contacts who went quiet, and when (90 days after their last order or interaction)."""
    churn = BUILT_IN[0]
    # dates whose 90 days have passed: a later one's quiet horizon is not over yet
    dates = snapshot_dates(data_end(export), count=12, step_days=30)[:-3]
    gone = outcome_labels(export, churn, dates).filter(pl.col(LABEL) == 1)["contact_id"].unique()
    last = (
        pl.concat(
            [
                export.activities.select("contact_id", pl.col("occurred_at").alias("at")),
                export.orders.select("contact_id", pl.col("ordered_at").alias("at")),
            ]
        )
        .group_by("contact_id")
        .agg((pl.col("at").max() + GONE).alias("quiet_at"))
    )
    return last.filter(pl.col("contact_id").is_in(gone.implode()))


@pytest.fixture
def company(generated_crm: AppContext, tmp_path: Path) -> AppContext:
    """The generated CRM with a feature store of its own, its churn model taking two fields."""
    ctx = own_copy(generated_crm, tmp_path / "own")
    ctx = replace(ctx, features=FeatureSettings(home=tmp_path / "own"))
    (tmp_path / "own" / CATALOGUE_FILE).write_text(CHURN_WITH_FIELDS, encoding="utf-8")
    _define(ctx)
    return ctx


def test_a_field_recorded_at_the_outcome_but_stored_undated_is_refused_and_a_legitimate_one_learnt(
    company: AppContext,
) -> None:
    export = export_crm(company.engine)
    churners = _churners(export)
    _set_custom(company, dict.fromkeys(churners["contact_id"].to_list(), "moved away"), "cancel_reason")
    _tiers(company, export)
    export = export_crm(company.engine)
    build_and_publish(export, company.features)

    service = service_feature_names(open_store(company.features), "churn_v1")
    assert {"custom__tier__is__gold", "custom__tier__is__bronze", "custom__cancel_reason__is__moved_away"} <= set(
        service
    )
    result = train("churn", export, company.features, company.training)
    refused = {leaky.field: leaky for leaky in result.readiness.refused}
    assert set(refused) == {"cancel_reason"}, "the tier is known before every row; the reason is not"
    assert refused["cancel_reason"].roc_auc >= 0.9
    assert "dated history" in refused["cancel_reason"].reason()
    assert company.registry.version("churn", result.version).params["refused_as_leaky"] == "cancel_reason"

    champion = load_champion(company.registry, "churn")
    assert "custom__tier__is__gold" in champion.feature_names
    assert not [name for name in champion.feature_names if "cancel_reason" in name]
    batch, version = score(company, "churn")
    assert batch.inserted > 0 and version == result.version

    # Online, the same champion reads the custom columns from the online store and gives the
    # score batch scoring wrote for the same snapshot, its reasons in words.
    with company.engine.connect() as connection:
        batch_scores = dict(
            connection.exec_driver_sql("SELECT contact_id, score FROM current_scores WHERE model_name = 'churn'").all()
        )
    member = min(batch_scores)
    books = PopulationBook(company.features.population_path)
    online = score_contacts(
        make_session_factory(company.engine),
        open_online_reader(company.features, open_store(company.features)),
        champion,
        ADMIN,
        [member],
        outside=lambda features: books.outside(company.catalogue.get("churn"), features),
    )
    assert [p.contact_id for p in online.predictions] == [member]
    assert online.predictions[0].score == pytest.approx(batch_scores[member])
    factors = online.predictions[0].top_factors
    assert factors and all(factor["description"] == describe(str(factor["feature"])) for factor in factors)


def test_the_same_field_with_its_dated_history_reaches_no_training_row(company: AppContext) -> None:
    export = export_crm(company.engine)
    churners = _churners(export).filter(pl.col("quiet_at") <= utc_now())
    with UnitOfWork(make_session_factory(company.engine)) as uow:
        append_changes(uow, ((c, "custom.cancel_reason", "moved away", at) for c, at in churners.rows()))
        uow.commit()
    _set_custom(company, dict.fromkeys(churners["contact_id"].to_list(), "moved away"), "cancel_reason")
    build_and_publish(export_crm(company.engine), company.features)

    result = train("churn", export_crm(company.engine), company.features, company.training)
    assert not result.readiness.refused, "set only after each customer went quiet, it is never seen early"
    training_set = pl.read_parquet(next(company.training.training_sets_dir.glob("churn-*.parquet")))
    assert training_set["custom__cancel_reason__is__moved_away"].sum() == 0, (
        "a contact holding it has already lapsed, and so is in no row of the churn population"
    )
    snapshots = pl.read_parquet(company.features.snapshot_path)
    assert snapshots["custom__cancel_reason__is__moved_away"].sum() > 0, "the snapshots do see it, when it was set"


def test_a_serving_reader_follows_a_build_that_adds_custom_inputs(company: AppContext) -> None:
    (company.features.home / CATALOGUE_FILE).unlink()
    build_and_publish(export_crm(company.engine), company.features)
    reader = open_online_reader(company.features, open_store(company.features))
    contact_ids = pl.read_parquet(company.features.snapshot_path)["contact_id"].unique().head(5).to_list()
    assert not [c for c in reader.read("churn_v1", contact_ids).columns if c.startswith("custom__")]

    _tiers(company, export_crm(company.engine))
    (company.features.home / CATALOGUE_FILE).write_text(CHURN_WITH_FIELDS, encoding="utf-8")
    build_and_publish(export_crm(company.engine), company.features)
    read = reader.read("churn_v1", contact_ids)
    assert "custom__tier__is__gold" in read.columns, "the running reader took the new layout and service"
    assert read["event_timestamp"].null_count() == 0, "every contact is stored under the new layout"


def test_a_serving_reader_follows_feasts_registry_written_after_the_snapshots(company: AppContext) -> None:
    """The build replaces the snapshots, then applies Feast: a read in between must not keep
    the services of before for good."""
    (company.features.home / CATALOGUE_FILE).unlink()
    build_and_publish(export_crm(company.engine), company.features)
    reader = open_online_reader(company.features, open_store(company.features))
    contact_ids = pl.read_parquet(company.features.snapshot_path)["contact_id"].unique().head(3).to_list()
    assert reader.read("churn_v1", contact_ids).height == 3

    narrow = Catalogue(parse_entries(NARROW_CHURN, CATALOGUE_FILE))
    apply_definitions(open_store(company.features), company.features, narrow)  # the registry only
    read = reader.read("churn_v1", contact_ids)
    assert set(read.columns[1:-1]) == {"orders_count_90d", "days_since_last_order"}, "the service as applied now"
