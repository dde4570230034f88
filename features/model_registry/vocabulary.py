"""Every name the product writes into MLflow or reads back from it, spelled once.

Registered models and versions carry aliases and tags; runs carry parameters, metrics and tags.
Training writes them and serving, the pages and the command line read them: a name changed here
changes on both sides, and a test holds that no other module spells one.
"""

from __future__ import annotations

# The alias serving loads; the product moves it only through `ModelRegistry`.
CHAMPION_ALIAS = "champion"

# Registered-model tags. Aliases keep no history, so the champions so far are a tag (JSON list).
HISTORY_TAG = "champion_history"
# "<version>:<MAC>": which version the product itself last made champion.
CHAMPION_SEAL_TAG = "champion_seal"

# Model-version tags.
ARTIFACT_SEAL_TAG = "artifact_seal"
PROMOTED_TAG = "promoted"
REASON_TAG = "reason"
ROLLED_BACK_TAG = "rolled_back"
ROLLED_BACK_TO_TAG = "rolled_back_to"
ERASURES_APPLIED_TAG = "erasures_applied"

# Run tags.
DATA_SNAPSHOT_TAG = "data_snapshot"
PROMOTION_TAG = "promotion"

# Run parameters that another package reads back.
CHAMPION_VERSION_PARAM = "champion_version"
FEATURE_SERVICE_PARAM = "feature_service"
BAND_MEDIUM_PARAM = "band_medium"
BAND_HIGH_PARAM = "band_high"
DATA_TIMESTAMP_PARAM = "data_timestamp"
TOP_K_PARAM = "k"

# Run metric prefixes: the candidate's holdout figures, the champion's on the same holdout, and
# the scored population's drift from the training set, one per feature plus the worst.
HOLDOUT_PREFIX = "holdout_"
CHAMPION_HOLDOUT_PREFIX = "champion_holdout_"
DRIFT_PREFIX = "drift_psi_"
DRIFT_WORST_METRIC = "drift_psi_max"  # the worst the calendar does not explain
DRIFT_SPAN_PREFIX = "drift_span_psi_"  # what each feature moved over the same span of the training history

TRUE, FALSE = "true", "false"

# A run's document of its scores checked against what happened (`training.outcome_check`).
OUTCOME_CHECK_DOCUMENT = "live/outcome_check.json"
