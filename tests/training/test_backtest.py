"""Walking a model forward: each step is judged by a model fitted only on what came before it,
in record order for a list written as things happened and by time for a dated history; a list
split at random has no order to walk and is refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from crm_core.exports import export_crm
from crm_intel.context import AppContext
from features.catalogue import BUILT_IN, Catalogue
from features.catalogue_file import parse_entries
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from training.backtest import BacktestError, record_order_steps, time_steps
from training.jobs import backtest_model
from training.labels import LABEL

END = datetime(2026, 12, 1)


def _rows(count: int, dates: list[datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            ENTITY_KEY: [n for _ in dates for n in range(1, count + 1)],
            EVENT_TIMESTAMP: [date for date in dates for _ in range(count)],
            LABEL: [n % 2 for _ in dates for n in range(count)],
        }
    )


def test_record_order_steps_judge_the_newest_fifth_each_on_what_came_before() -> None:
    rows = _rows(1_000, [END]).sample(fraction=1.0, shuffle=True, seed=1)
    steps = record_order_steps(rows, steps=4)
    judged = [step.judged[ENTITY_KEY].to_list() for step in steps]
    assert [ids[0] for ids in judged] == [801, 851, 901, 951] and judged[-1][-1] == 1_000
    assert sorted(n for ids in judged for n in ids) == list(range(801, 1_001)), "each newest record judged once"
    for step in steps:
        first_judged = step.judged[ENTITY_KEY].min()
        known = pl.concat([step.fit, step.calibration])[ENTITY_KEY]
        assert known.max() < first_judged and known.len() == first_judged - 1, "fitted on everything before"
        assert step.calibration.height == round((first_judged - 1) * 0.25), "the newest quarter calibrates"
        assert step.fit[ENTITY_KEY].max() < step.calibration[ENTITY_KEY].min()


def test_time_steps_keep_a_horizon_between_what_is_fitted_and_what_is_judged() -> None:
    dates = [END - timedelta(days=30 * k) for k in reversed(range(12))]
    steps = time_steps(_rows(50, dates), horizon_days=60, steps=5)
    assert [step.name for step in steps] == [f"{date:%Y-%m-%d}" for date in dates[-5:]]
    for step in steps:
        judged = step.judged[EVENT_TIMESTAMP].unique().to_list()
        calibrated = step.calibration[EVENT_TIMESTAMP].unique().to_list()
        assert len(judged) == len(calibrated) == 1
        assert calibrated[0] + timedelta(days=60) <= judged[0], "calibration labels resolved before the step"
        assert step.fit[EVENT_TIMESTAMP].max() + timedelta(days=60) <= calibrated[0]
    assert time_steps(_rows(50, dates[:3]), horizon_days=60) == [], "too short a history: no step"


@pytest.mark.slow
def test_a_dated_model_and_a_list_in_record_order_walk_forward(generated_crm: AppContext) -> None:
    export = export_crm(generated_crm.engine)
    churn = backtest_model("churn", export, generated_crm.features, generated_crm.training, steps=3)
    assert churn.walk.startswith("by time") and len(churn.steps) == 3
    assert all(step.scorer is not None and step.roc_auc is not None for step in churn.steps)
    assert churn.pooled["roc_auc"] > 0.65, "the generator's churn signal, judged a step at a time"
    assert churn.as_json()["pooled"] == churn.pooled

    listed = """
[[model]]
name = "lead"
title = "Customers"
outcome = "stage_reached"
stage = "customer"
history = "snapshot"
split = "record_order"
meaning = "likely to be a customer"
"""
    catalogue = Catalogue((BUILT_IN[0], *parse_entries(listed, "models.toml"), BUILT_IN[2]))
    walked = backtest_model("lead", export, generated_crm.features, generated_crm.training, catalogue, steps=4)
    assert walked.walk.startswith("in record order") and len(walked.steps) == 4
    assert [step.fit_rows for step in walked.steps] == sorted(step.fit_rows for step in walked.steps)
    assert sum(step.judged_rows for step in walked.steps) == round(len(export.contacts) * 0.2)

    at_random = Catalogue(
        (BUILT_IN[0], *parse_entries(listed.replace('split = "record_order"\n', ""), "m"), BUILT_IN[2])
    )
    with pytest.raises(BacktestError, match="split at random"):
        backtest_model("lead", export, generated_crm.features, generated_crm.training, at_random)
