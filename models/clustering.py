"""Behaviour clusters with names a marketer can read.

KMeans on log-scaled, standardised behaviour features (a few heavy spenders would otherwise be
clusters of their own). Each cluster is named by the two features its centre sits furthest
from the average on, e.g. "high spend in the last year, low interactions in the last 30 days".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class Cluster:
    index: int
    name: str
    size: int
    profile: dict[str, float]  # feature -> centre, in standard deviations from the average


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray
    clusters: list[Cluster]


def _phrase(description: str, high: bool) -> str:
    # "days since X" reads backwards as high/low: say how long ago instead.
    if description.startswith("days since "):
        event = description.removeprefix("days since ")
        return f"long since {event}" if high else f"recent {event.removeprefix('the ')}"
    return f"{'high' if high else 'low'} {description}"


def name_cluster(profile: dict[str, float], describe: Callable[[str], str], words: int = 2) -> str:
    strongest = sorted(profile, key=lambda feature: (-abs(profile[feature]), feature))[:words]
    return ", ".join(_phrase(describe(feature), profile[feature] > 0) for feature in strongest)


def behaviour_clusters(
    values: np.ndarray, feature_names: list[str], *, k: int, seed: int, describe: Callable[[str], str]
) -> Clustering:
    """`values`: one row per contact; missing values are taken as the median."""
    if len(values) < k:
        raise ValueError(f"{len(values)} contacts cannot form {k} clusters")
    filled = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(values)
    scaled = StandardScaler().fit_transform(np.log1p(np.clip(filled, 0.0, None)))
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(scaled)
    labels = np.asarray(model.labels_)
    # Order clusters by size (largest first) so "cluster 1" means the same across refits.
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels = relabel[labels]
    clusters = []
    for new_index, old_index in enumerate(order):
        profile = {
            name: round(float(v), 3) for name, v in zip(feature_names, model.cluster_centers_[old_index], strict=True)
        }
        clusters.append(
            Cluster(
                index=new_index,
                name=name_cluster(profile, describe),
                size=int((labels == new_index).sum()),
                profile=profile,
            )
        )
    return Clustering(labels=labels, clusters=clusters)
