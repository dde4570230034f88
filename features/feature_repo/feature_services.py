"""One FeatureService per model version: the contract training and serving both ask for.

Each scorer in the model catalogue gets one, named by its entry and holding the features it
lists (every contact feature when it lists none), so a model added to the catalogue has its
service without a definition written here.
"""

from feast import FeatureService, FeatureView

from features.catalogue import Catalogue, ModelEntry
from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS


def _projections(entry: ModelEntry) -> list[FeatureView]:
    if entry.features is None:
        return list(CONTACT_FEATURE_VIEWS)
    wanted = set(entry.features)
    projected = []
    for view in CONTACT_FEATURE_VIEWS:
        names = [field.name for field in view.features if field.name in wanted]
        if names:
            projected.append(view[names])
    return projected


def feature_service(entry: ModelEntry) -> FeatureService:
    return FeatureService(
        name=entry.feature_service,
        features=[*_projections(entry)],
        description=f"{entry.title}: {entry.meaning}.",
    )


def feature_services(catalogue: Catalogue) -> list[FeatureService]:
    return [feature_service(entry) for entry in catalogue.scorers()]
