"""One FeatureService per model version: the contract training and serving both ask for.

Each scorer in the model catalogue gets one, named by its entry and holding the features it
lists (every contact feature when it lists none) and the columns of the custom fields it
takes, so a model added to the catalogue has its service without a definition written here.
"""

from feast import FeatureService, FeatureView

from features.catalogue import Catalogue, ModelEntry
from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS
from features.schema import custom_field_of


def _projections(entry: ModelEntry, custom_view: FeatureView | None) -> list[FeatureView]:
    projected = []
    wanted = set(entry.feature_names)
    for view in CONTACT_FEATURE_VIEWS:
        names = [field.name for field in view.features if field.name in wanted]
        if len(names) == len(view.features):
            projected.append(view)
        elif names:
            projected.append(view[names])
    if custom_view is not None:
        own = [field.name for field in custom_view.features if custom_field_of(field.name) in entry.custom_fields]
        if own:
            projected.append(custom_view[own])
    return projected


def feature_service(entry: ModelEntry, custom_view: FeatureView | None = None) -> FeatureService:
    return FeatureService(
        name=entry.feature_service,
        features=[*_projections(entry, custom_view)],
        description=f"{entry.title}: {entry.meaning}.",
    )


def feature_services(catalogue: Catalogue, custom_view: FeatureView | None = None) -> list[FeatureService]:
    return [feature_service(entry, custom_view) for entry in catalogue.scorers()]
