"""The one adapter that speaks MLflow: runs, registered versions, the champion alias and its
history, verdicts, promotion and roll-back, drift records, sealed artifacts and verified loads.

Every alias, tag, metric prefix and cross-package parameter name is a constant in `vocabulary`;
nothing else in the product spells one. It lives in `features` because that is the lowest
package both training (which writes the registry) and serving (which reads it) may import, and
`models` stays pure computation. It never imports `models`: what it registers and loads is
typed by small protocols, and callers name the class they expect back.
"""

from features.model_registry.records import (
    ArtifactIntegrityError,
    LoggedModel,
    NoChampionError,
    NothingToRollBackError,
    PromotionRefusedError,
    Rollback,
    RunRecord,
    VersionRecord,
)
from features.model_registry.registry import ModelRegistry

__all__ = [
    "ArtifactIntegrityError",
    "LoggedModel",
    "ModelRegistry",
    "NoChampionError",
    "NothingToRollBackError",
    "PromotionRefusedError",
    "Rollback",
    "RunRecord",
    "VersionRecord",
]
