"""Feature views over the contact snapshots, grouped by what the features describe."""

from datetime import timedelta

import polars as pl
from feast import FeatureView, Field
from feast.types import Float64, Int64

from features.feature_repo.data_sources import contact_snapshots
from features.feature_repo.entities import contact
from features.schema import FEATURES, describe, source_of

# A ttl of zero means "never expires": every snapshot covers every contact, and the
# point-in-time join must not silently drop a training row because a snapshot is old.
NO_EXPIRY = timedelta(0)
# Serving reads an online store of ours (`features.online`); Feast's would only be an unused copy.
ONLINE_IN_FEAST = False


def _fields(names: list[str]) -> list[Field]:
    return [
        Field(name=name, dtype=Int64 if FEATURES[name][0] == pl.Int64 else Float64, description=FEATURES[name][1])
        for name in names
    ]


def _from(*sources: str) -> list[str]:
    return [name for name in FEATURES if source_of(name) in sources]


contact_activity = FeatureView(
    name="contact_activity",
    entities=[contact],
    ttl=NO_EXPIRY,
    online=ONLINE_IN_FEAST,
    schema=_fields(_from("activity")),
    source=contact_snapshots,
    description="Interactions across channels over 7/30/90 days and their recency.",
)
contact_orders = FeatureView(
    name="contact_orders",
    entities=[contact],
    ttl=NO_EXPIRY,
    online=ONLINE_IN_FEAST,
    schema=_fields(_from("order")),
    source=contact_snapshots,
    description="Recency, frequency and monetary value of orders.",
)
contact_support = FeatureView(
    name="contact_support",
    entities=[contact],
    ttl=NO_EXPIRY,
    online=ONLINE_IN_FEAST,
    schema=_fields(_from("ticket")),
    source=contact_snapshots,
    description="Support ticket load and satisfaction.",
)
contact_pipeline = FeatureView(
    name="contact_pipeline",
    entities=[contact],
    ttl=NO_EXPIRY,
    online=ONLINE_IN_FEAST,
    schema=_fields(_from("deal", "contact")),
    source=contact_snapshots,
    description="Open and won deals, and how long the contact has been with us.",
)

CONTACT_FEATURE_VIEWS = [contact_activity, contact_orders, contact_support, contact_pipeline]


def custom_field_view(columns: list[str]) -> FeatureView:
    """The data home's custom-field inputs, from the same snapshots: its columns are known only
    once a build has read the home's field definitions and models, so it is made then."""
    return FeatureView(
        name="contact_custom_fields",
        entities=[contact],
        ttl=NO_EXPIRY,
        online=ONLINE_IN_FEAST,
        schema=[Field(name=name, dtype=Float64, description=describe(name)) for name in columns],
        source=contact_snapshots,
        description="The company's own contact fields that its models take, as they stood at each date.",
    )
