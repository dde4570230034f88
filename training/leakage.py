"""Refusing custom fields that leak the outcome into a model.

The product's own features are computed point-in-time, and a custom field is read from the
contact history as it stood at each date. But a company's file can date a value wrongly: a
contacts export stamps "cancel reason" at the contact's creation although it was written when
the customer left. Such a field, alone, tells the training rows' outcome almost perfectly, and a
model fitted on it would look excellent and predict nothing. A field whose columns separate the
outcome on the fit rows at `LEAKY_ROC_AUC` or better is refused as an input, and the run says
which and why; its dated history brought in (a contact_changes file) puts it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from features.schema import custom_field_of, is_custom

# A field recorded when the outcome happens but stored undated separates the generated CRM's
# churn and lead outcomes above this; a legitimate attribute rarely tells a future outcome so well.
LEAKY_ROC_AUC = 0.90


@dataclass(frozen=True)
class LeakyField:
    field: str
    column: str  # the column that separates best
    roc_auc: float  # that column alone, on the fit rows, whichever direction separates

    def reason(self) -> str:
        return (
            f"custom field {self.field} is refused as an input: alone it tells the outcome of the training rows "
            f"(ROC-AUC {self.roc_auc:.2f}), as a value recorded when or after the outcome happens does; bring its "
            "dated history (a contact_changes file) so each date sees the value it held then"
        )


def _separation(values: pl.Series, labels: np.ndarray) -> float | None:
    known = values.cast(pl.Float64)
    if known.null_count() == known.len() or known.n_unique() < 2:
        return None
    lowest = known.min()
    floor = (float(lowest) if isinstance(lowest, int | float) else 0.0) - 1.0
    auc = float(roc_auc_score(labels, known.fill_null(floor).to_numpy()))
    return max(auc, 1.0 - auc)


def leaky_fields(rows: pl.DataFrame, label: str, feature_names: Sequence[str]) -> list[LeakyField]:
    """The custom fields among `feature_names` one of whose columns alone separates `label`."""
    labels = rows[label].to_numpy()
    if len(np.unique(labels)) < 2:
        return []
    best: dict[str, LeakyField] = {}
    for column in (name for name in feature_names if is_custom(name)):
        separation = _separation(rows[column], labels)
        field = custom_field_of(column)
        leaks = separation is not None and separation >= LEAKY_ROC_AUC
        if leaks and separation is not None and (field not in best or separation > best[field].roc_auc):
            best[field] = LeakyField(field, column, separation)
    return list(best.values())
