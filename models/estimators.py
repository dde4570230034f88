"""Estimator factories; each takes the seed so every fit is reproducible."""

from __future__ import annotations

from lightgbm import LGBMClassifier


def lightgbm_classifier(random_state: int) -> LGBMClassifier:
    # Shallow-ish trees and a minimum leaf size keep a noisy CRM signal from being memorised.
    return LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=2,
        verbose=-1,
    )
