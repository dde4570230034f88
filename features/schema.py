"""The pinned output schema of contact features, with a business description of each.

The descriptions are what sales reps read as "top factors", and what Feast records per field.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from crm_core.errors import CrmError

WINDOWS_DAYS = (7, 30, 90)
CHANNELS = ("email", "phone", "sms", "chat", "social", "web", "in-person")
ENTITY_KEY = "contact_id"
EVENT_TIMESTAMP = "event_timestamp"


def channel_slug(channel: str) -> str:
    return channel.replace("-", "_")


def _descriptions() -> dict[str, tuple[pl.DataType, str]]:
    fields: dict[str, tuple[pl.DataType, str]] = {}
    for days in WINDOWS_DAYS:
        fields[f"activities_count_{days}d"] = (pl.Int64(), f"interactions in the last {days} days")
        for channel in CHANNELS:
            fields[f"{channel_slug(channel)}_activities_count_{days}d"] = (
                pl.Int64(),
                f"{channel} interactions in the last {days} days",
            )
        fields[f"emails_opened_count_{days}d"] = (pl.Int64(), f"emails opened in the last {days} days")
    fields.update(
        {
            "days_since_last_activity": (pl.Float64(), "days since the last interaction"),
            "days_since_last_order": (pl.Float64(), "days since the last order"),
            "orders_count_90d": (pl.Int64(), "orders in the last 90 days"),
            "orders_count_365d": (pl.Int64(), "orders in the last year"),
            "order_value_90d": (pl.Float64(), "spend in the last 90 days"),
            "order_value_365d": (pl.Float64(), "spend in the last year"),
            "order_value_lifetime": (pl.Float64(), "lifetime spend"),
            "avg_order_value_365d": (pl.Float64(), "average order value over the last year"),
            "tickets_opened_count_30d": (pl.Int64(), "support tickets opened in the last 30 days"),
            "tickets_opened_count_90d": (pl.Int64(), "support tickets opened in the last 90 days"),
            "open_tickets_count": (pl.Int64(), "support tickets still open"),
            "avg_satisfaction_180d": (pl.Float64(), "average support satisfaction (1-5) over 180 days"),
            "open_deals_count": (pl.Int64(), "open deals"),
            "open_deal_value": (pl.Float64(), "value of open deals"),
            "won_deal_value_365d": (pl.Float64(), "value of deals won in the last year"),
            "tenure_days": (pl.Float64(), "days as a contact"),
        }
    )
    return fields


FEATURES: dict[str, tuple[pl.DataType, str]] = _descriptions()
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)
# Features no contact's behaviour can hold still: an age, and a lifetime total. A population
# scored a horizon after its training snapshot is older on them by construction.
GROWS_WITH_TIME = frozenset({"tenure_days", "order_value_lifetime"})
CONTACT_FEATURES_SCHEMA = pl.Schema(
    {ENTITY_KEY: pl.Int64(), EVENT_TIMESTAMP: pl.Datetime("us")}
    | {name: dtype for name, (dtype, _) in FEATURES.items()}
)


# Custom-field inputs (`features.custom_inputs`) follow the pinned columns, all float64, named
# so their meaning reads back from the name: custom__<field> (a number or yes/no),
# custom__<field>__days_since (a date), custom__<field>__is__<value> (one value of a text field).
CUSTOM_PREFIX = "custom__"
DAYS_SINCE_SUFFIX = "__days_since"
INDICATOR_INFIX = "__is__"


def is_custom(feature: str) -> bool:
    return feature.startswith(CUSTOM_PREFIX)


def custom_field_of(feature: str) -> str:
    """The custom field a custom input column is computed from."""
    rest = feature.removeprefix(CUSTOM_PREFIX)
    return rest.split(INDICATOR_INFIX, 1)[0].removesuffix(DAYS_SINCE_SUFFIX)


def _describe_custom(feature: str) -> str:
    field = custom_field_of(feature).replace("_", " ")
    if INDICATOR_INFIX in feature:
        return f"{field} is {feature.split(INDICATOR_INFIX, 1)[1].replace('_', ' ')}"
    if feature.endswith(DAYS_SINCE_SUFFIX):
        return f"days since {field}"
    return field


def source_of(feature: str) -> str:
    """The CRM entity a feature is computed from: who may read that entity may read the reason.

    Also what groups features into Feast views, so the two can never disagree.
    """
    if is_custom(feature):
        return "contact"
    if "activit" in feature or feature.startswith("emails_"):
        return "activity"
    if "order" in feature:
        return "order"
    if "ticket" in feature or "satisfaction" in feature:
        return "ticket"
    if "deal" in feature:
        return "deal"
    return "contact"


def describe(feature: str) -> str:
    """Business wording of a feature name, for explanations shown to users."""
    if feature in FEATURES:
        return FEATURES[feature][1]
    return _describe_custom(feature) if is_custom(feature) else feature.replace("_", " ")


class FeatureSchemaError(CrmError, ValueError):
    """A feature frame whose columns or types differ from the pinned schema."""


def snapshot_schema(custom_columns: list[str]) -> pl.Schema:
    """The pinned columns, then the custom inputs a data home's models take, in the order given."""
    return pl.Schema(dict(CONTACT_FEATURES_SCHEMA) | {name: pl.Float64() for name in custom_columns})


def custom_columns_of(columns: Iterable[str]) -> list[str]:
    """The custom-input columns among a snapshot's, in its order."""
    return [name for name in columns if is_custom(name)]


def assert_schema(frame: pl.DataFrame) -> pl.DataFrame:
    expected_schema = snapshot_schema(custom_columns_of(frame.columns))
    if frame.schema != expected_schema:
        expected, actual = dict(expected_schema), dict(frame.schema)
        differences = {
            name: (expected.get(name), actual.get(name))
            for name in expected.keys() | actual.keys()
            if expected.get(name) != actual.get(name)
        }
        raise FeatureSchemaError(f"contact features differ from the pinned schema: {differences}")
    # Missing is null, never NaN: Feast, Parquet and the models must all see the same "unknown".
    nan_columns = [
        name for name, has_nan in frame.select(pl.col(pl.Float64).is_nan().any()).row(0, named=True).items() if has_nan
    ]
    if nan_columns:
        raise FeatureSchemaError(f"contact features hold NaN (use null for unknown) in: {nan_columns}")
    return frame
