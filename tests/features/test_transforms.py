from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from crm_core.exports import (
    ACTIVITIES_SCHEMA,
    CONTACTS_SCHEMA,
    DEALS_SCHEMA,
    ORDERS_SCHEMA,
    TICKETS_SCHEMA,
    CrmExport,
)
from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS
from features.schema import CONTACT_FEATURES_SCHEMA, FEATURE_NAMES, FeatureSchemaError, assert_schema
from features.snapshots import build_snapshots

AS_OF = datetime(2026, 6, 1)


def days_ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def small_export(extra_activities: list[tuple[int, str, str, datetime]] | None = None) -> CrmExport:
    activities = [
        (1, "email_open", "email", days_ago(1)),
        (1, "call", "phone", days_ago(7)),  # exactly 7 days: outside the 7-day window (half-open)
        (1, "web_visit", "web", days_ago(20)),
        (1, "meeting", "in-person", days_ago(60)),
        (2, "chat", "chat", days_ago(100)),
        *(extra_activities or []),
    ]
    return CrmExport(
        contacts=pl.DataFrame(
            [(1, days_ago(400)), (2, days_ago(200)), (3, days_ago(10)), (4, AS_OF + timedelta(days=1))],
            schema=CONTACTS_SCHEMA,
            orient="row",
        ),
        activities=pl.DataFrame(activities, schema=ACTIVITIES_SCHEMA, orient="row"),
        orders=pl.DataFrame(
            [(1, days_ago(10), 100.0), (1, days_ago(200), 50.0), (2, days_ago(400), 10.0)],
            schema=ORDERS_SCHEMA,
            orient="row",
        ),
        tickets=pl.DataFrame(
            [
                (1, days_ago(5), None, None),  # still open
                (1, days_ago(40), days_ago(38), 2),
                (2, days_ago(3), AS_OF + timedelta(days=1), 5),  # resolved after as_of: unknown then
            ],
            schema=TICKETS_SCHEMA,
            orient="row",
        ),
        deals=pl.DataFrame(
            [
                (1, 1000.0, "open", days_ago(30), None),
                (1, 500.0, "won", days_ago(90), days_ago(20)),
                (2, 700.0, "lost", days_ago(50), AS_OF + timedelta(days=5)),  # still open at as_of
            ],
            schema=DEALS_SCHEMA,
            orient="row",
        ),
    )


def features_at(export: CrmExport, as_of: datetime = AS_OF) -> pl.DataFrame:
    return build_snapshots(export, [as_of])


def test_features_match_hand_computed_values() -> None:
    rows = {row["contact_id"]: row for row in features_at(small_export()).iter_rows(named=True)}
    assert set(rows) == {1, 2, 3}, "contact 4 did not exist at as_of"
    first, second, newcomer = rows[1], rows[2], rows[3]
    assert (first["activities_count_7d"], first["activities_count_30d"], first["activities_count_90d"]) == (1, 3, 4)
    assert first["phone_activities_count_30d"] == 1
    assert first["in_person_activities_count_90d"] == 1
    assert first["emails_opened_count_7d"] == 1
    assert first["days_since_last_activity"] == pytest.approx(1.0)
    assert (first["orders_count_90d"], first["orders_count_365d"]) == (1, 2)
    assert (first["order_value_365d"], first["order_value_lifetime"]) == (150.0, 150.0)
    assert first["avg_order_value_365d"] == 75.0
    assert first["open_tickets_count"] == 1
    assert first["avg_satisfaction_180d"] == 2.0
    assert (first["open_deals_count"], first["open_deal_value"], first["won_deal_value_365d"]) == (1, 1000.0, 500.0)
    assert first["tenure_days"] == pytest.approx(400.0)
    assert second["open_tickets_count"] == 1 and second["avg_satisfaction_180d"] is None
    assert (second["open_deals_count"], second["open_deal_value"]) == (1, 700.0)
    assert second["orders_count_365d"] == 0 and second["order_value_lifetime"] == 10.0
    assert second["avg_order_value_365d"] is None, "no orders in the year: unknown, not NaN"
    assert newcomer["activities_count_90d"] == 0 and newcomer["days_since_last_activity"] is None
    assert newcomer["days_since_last_order"] is None and newcomer["order_value_lifetime"] == 0.0


def test_events_after_as_of_change_no_feature() -> None:
    """Leakage guard: the future (activities, orders, tickets, deals) is invisible at as_of."""
    base = small_export()
    future = AS_OF + timedelta(seconds=1)
    leaky = CrmExport(
        contacts=base.contacts,
        activities=pl.concat(
            [
                base.activities,
                pl.DataFrame(
                    [(1, "call", "phone", future), (3, "chat", "chat", future)], schema=ACTIVITIES_SCHEMA, orient="row"
                ),
            ]
        ),
        orders=pl.concat([base.orders, pl.DataFrame([(3, future, 999.0)], schema=ORDERS_SCHEMA, orient="row")]),
        tickets=pl.concat([base.tickets, pl.DataFrame([(1, future, future, 1)], schema=TICKETS_SCHEMA, orient="row")]),
        deals=pl.concat(
            [base.deals, pl.DataFrame([(2, 5.0, "won", future, future)], schema=DEALS_SCHEMA, orient="row")]
        ),
    )
    assert features_at(leaky).equals(features_at(base))


def test_output_schema_is_pinned() -> None:
    frame = features_at(small_export())
    assert frame.schema == CONTACT_FEATURES_SCHEMA
    with pytest.raises(FeatureSchemaError, match="tenure_days"):
        assert_schema(frame.with_columns(pl.col("tenure_days").cast(pl.Int32)))
    with pytest.raises(FeatureSchemaError, match=r"NaN .* in: \['tenure_days'\]"):
        assert_schema(frame.with_columns(pl.lit(float("nan")).alias("tenure_days")))
    with pytest.raises(FeatureSchemaError, match="surprise"):
        assert_schema(frame.with_columns(pl.lit(1).alias("surprise")))


def test_every_feature_is_served_by_exactly_one_feature_view() -> None:
    served = [field.name for view in CONTACT_FEATURE_VIEWS for field in view.features]
    assert sorted(served) == sorted(FEATURE_NAMES)
    assert all(field.description for view in CONTACT_FEATURE_VIEWS for field in view.features)
