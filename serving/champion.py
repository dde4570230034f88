"""Loading `<model>@champion` from the MLflow registry, once, with what scoring needs to know.

The native LightGBM flavour is used on purpose: through `mlflow.pyfunc` an LGBMClassifier
returns class labels, not probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.bands import Bands

CHAMPION_ALIAS = "champion"


class NoChampionError(RuntimeError):
    """No model holds the champion alias: nothing to score with until one is trained."""

    def __init__(self, model_name: str) -> None:
        super().__init__(
            f"no champion model for '{model_name}': train one first "
            f"(`crm-intel train {model_name}` or `crm-intel quickstart`)"
        )
        self.model_name = model_name


@dataclass(frozen=True)
class Champion:
    model_name: str
    version: str
    run_id: str
    feature_service: str
    feature_names: list[str]
    bands: Bands
    model: Any


def load_champion(tracking_uri: str, model_name: str) -> Champion:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException as error:
        raise NoChampionError(model_name) from error
    if version.run_id is None:
        raise NoChampionError(model_name)
    params = client.get_run(version.run_id).data.params
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.lightgbm.load_model(f"models:/{model_name}@{CHAMPION_ALIAS}")
    return Champion(
        model_name=model_name,
        version=str(version.version),
        run_id=str(version.run_id),
        feature_service=params["feature_service"],
        feature_names=list(model.booster_.feature_name()),
        bands=Bands(medium=float(params["band_medium"]), high=float(params["band_high"])),
        model=model,
    )
