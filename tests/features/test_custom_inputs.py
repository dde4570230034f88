"""A company's custom fields as model inputs: valued point-in-time from the contact history,
encoded by type, named so they read back, and refused when they cannot be inputs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from crm_core.exports import CrmExport
from features.catalogue import BUILT_IN, ModelEntry
from features.catalogue_file import CatalogueError, parse_entries
from features.custom_inputs import MAX_VALUES, CustomInputError, absent_indicators, custom_inputs, custom_values
from features.model_input import to_model_input
from features.schema import FEATURE_NAMES, assert_schema, custom_field_of, describe, source_of
from features.snapshots import build_snapshots
from tests.support.exports import export_of

AS_OF = datetime(2026, 6, 1)
EARLIER = AS_OF - timedelta(days=30)
DAY = timedelta(days=1)


def _export(changes: list[tuple[int, str, str | None, datetime]], custom: pl.DataFrame | None = None) -> CrmExport:
    """Four contacts created a year before; contact 4 holds its plan with no history of it."""
    contacts = [(i, AS_OF - 365 * DAY) for i in range(1, 5)]
    activities = [(i, "call", "phone", AS_OF - 3 * DAY) for i in range(1, 5)]
    held = custom if custom is not None else pl.DataFrame(
        {"contact_id": [1, 2, 4], "plan": ["Paid (annual)", "free", "Free"], "seats": [None, None, None],
         "trial_ends": [None, None, None], "partner": [None, None, None]},
        schema={"contact_id": pl.Int64, "plan": pl.String, "seats": pl.Int64, "trial_ends": pl.Date,
                "partner": pl.Boolean},
    )  # fmt: skip
    return export_of(contacts, activities=activities, changes=changes, custom=held)


HISTORY = [
    (1, "custom.plan", "free", AS_OF - 100 * DAY),
    (1, "custom.plan", "Paid (annual)", AS_OF - 10 * DAY),  # after EARLIER, before AS_OF
    (2, "custom.plan", "free", AS_OF - 200 * DAY),
    (1, "custom.seats", "12", AS_OF - 50 * DAY),
    (2, "custom.seats", "3", AS_OF - 5 * DAY),
    (1, "custom.trial_ends", "2026-05-22", AS_OF - 60 * DAY),
    (2, "custom.partner", "true", AS_OF - 60 * DAY),
    (3, "custom.partner", "false", AS_OF - 60 * DAY),
]


def _values(export: CrmExport, fields: list[str]) -> dict[tuple[int, datetime], dict[str, object]]:
    inputs = custom_inputs(export, fields)
    frame = custom_values(export, inputs, [EARLIER, AS_OF])
    return {(row.pop("contact_id"), row.pop("event_timestamp")): row for row in frame.to_dicts()}


def test_each_date_sees_the_value_the_history_held_then() -> None:
    values = _values(_export(HISTORY), ["plan", "seats", "trial_ends", "partner"])
    paid, free = "custom__plan__is__paid_annual", "custom__plan__is__free"
    assert values[(1, EARLIER)][free] == 1.0 and values[(1, EARLIER)][paid] == 0.0, "paid only 10 days before AS_OF"
    assert values[(1, AS_OF)][paid] == 1.0 and values[(1, AS_OF)][free] == 0.0
    assert values[(2, EARLIER)]["custom__seats"] is None, "seats were set 5 days before AS_OF"
    assert values[(2, AS_OF)]["custom__seats"] == 3.0
    assert values[(1, AS_OF)]["custom__seats"] == 12.0
    assert values[(1, AS_OF)]["custom__trial_ends__days_since"] == (AS_OF.date() - date(2026, 5, 22)).days
    assert values[(2, AS_OF)]["custom__partner"] == 1.0 and values[(3, AS_OF)]["custom__partner"] == 0.0
    # Contact 4's plan has no history: it holds its value from its creation, as an import dates it.
    assert values[(4, EARLIER)]["custom__plan__is__free"] == 1.0, "'Free' and 'free' are one value"


def test_a_value_cleared_or_never_set_reads_zero_in_value_columns_and_null_in_numbers() -> None:
    cleared = [*HISTORY, (1, "custom.plan", None, AS_OF - 2 * DAY)]
    values = _values(_export(cleared), ["plan", "seats"])
    assert values[(1, AS_OF)]["custom__plan__is__paid_annual"] == 0.0
    assert (3, AS_OF) not in values or values[(3, AS_OF)]["custom__seats"] is None
    export = _export(HISTORY)
    inputs = custom_inputs(export, ["plan", "seats"])
    snapshots = build_snapshots(export, [EARLIER, AS_OF], inputs)
    three = snapshots.filter((pl.col("contact_id") == 3) & (pl.col("event_timestamp") == AS_OF)).row(0, named=True)
    assert three["custom__plan__is__free"] == 0.0 and three["custom__seats"] is None


def test_the_snapshots_carry_the_inputs_after_the_pinned_features_and_pass_the_schema_check() -> None:
    export = _export(HISTORY)
    inputs = custom_inputs(export, ["seats", "plan"])
    snapshots = build_snapshots(export, [EARLIER, AS_OF], inputs)
    assert snapshots.columns[2 : 2 + len(FEATURE_NAMES)] == list(FEATURE_NAMES)
    assert snapshots.columns[2 + len(FEATURE_NAMES) :] == [item.column for item in inputs]
    assert inputs[0].column == "custom__seats", "in the order the fields are named"
    assert snapshots.height == 8, "one row per contact and date, the inputs joined, not multiplied"
    with pytest.raises(ValueError, match="custom__seats"):
        assert_schema(snapshots.with_columns(pl.col("custom__seats").cast(pl.Int64)))


def test_column_names_read_back_as_words_and_as_the_contact_they_describe() -> None:
    assert describe("custom__plan__is__paid_annual") == "plan is paid annual"
    assert describe("custom__trial_ends__days_since") == "days since trial ends"
    assert describe("custom__order_size") == "order size"
    assert custom_field_of("custom__plan__is__free") == "plan"
    assert source_of("custom__order_size") == "contact", "a custom field is the contact's, whatever its name"


def test_fields_that_cannot_be_inputs_are_refused_by_name() -> None:
    export = _export(HISTORY)
    with pytest.raises(CustomInputError, match="'budget' is not defined for contacts"):
        custom_inputs(export, ["budget"])
    chatty = [(1 + i % 4, "custom.plan", f"note number {i}", AS_OF - (i + 1) * DAY) for i in range(MAX_VALUES + 1)]
    with pytest.raises(CustomInputError, match=f"'plan' has held {MAX_VALUES + 1} different values"):
        custom_inputs(_export(chatty), ["plan"])


def test_a_model_cannot_take_its_own_outcome_field_or_a_field_twice() -> None:
    lead = BUILT_IN[1].model_dump(exclude={"outcome"})
    own = lead | {"outcome": "field_value", "field": "plan", "value": "paid"}
    with pytest.raises(ValueError, match="plan is the outcome itself"):
        ModelEntry.model_validate(own | {"custom_fields": ["plan"]})
    with pytest.raises(ValueError, match="names a field twice"):
        ModelEntry.model_validate(own | {"custom_fields": ["seats", "seats"]})
    with pytest.raises(CatalogueError, match="custom_fields"):
        parse_entries('[[model]]\nname="x"\ntitle="X"\noutcome="order_placed"\nhorizon_days=30\n'
                      'meaning="m"\ncustom_fields=["Not A Name"]\n', "models.toml")  # fmt: skip
    entry = ModelEntry.model_validate(own | {"custom_fields": ["seats", "industry"]})
    assert entry.inputs_in_words() == "every contact feature, and custom fields seats, industry"


def test_a_value_no_contact_holds_any_more_reads_zero_where_its_column_is_gone() -> None:
    frame = pl.DataFrame({"custom__seats": [2.0, None]})
    wanted = ["custom__seats", "custom__plan__is__trial"]
    assert absent_indicators(frame, wanted)["custom__plan__is__trial"].to_list() == [0.0, 0.0]
    assert to_model_input(frame, wanted)["custom__plan__is__trial"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="custom__industry"):
        to_model_input(frame, ["custom__industry"])
