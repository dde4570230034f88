"""One FeatureService per model version: the contract training and serving both ask for."""

from feast import FeatureService

from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS

churn_v1 = FeatureService(
    name="churn_v1",
    features=[*CONTACT_FEATURE_VIEWS],
    description="Every contact feature, for the churn model.",
)

lead_v1 = FeatureService(
    name="lead_v1",
    features=[*CONTACT_FEATURE_VIEWS],
    description="Every contact feature, for lead conversion scoring (contacts with an open deal).",
)

FEATURE_SERVICES = [churn_v1, lead_v1]
