"""The online store is ours: Feast defines the features and answers point-in-time training
sets; serving's latest values live in a layout this package owns.

Why: Feast's online layout is one row (SQLite) or one hash field (Redis) per contact and
feature, written through protobuf one value at a time; writing it faster meant copying Feast's
private encoders and key hashing, which every Feast release could break. Here a contact is one
SQLite row or one Redis hash holding one blob of every feature (`layout`), written in bulk by a
crash-safe chunked refresh (`refresh`), read by `reader`, and deleted on erasure. Feast keeps
what it is made for, through its public API only: the definitions, the registry, the feature
services that name what each model reads, and point-in-time retrieval for training. A test
holds the values served equal to what Feast's point-in-time join gives training for the same
snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from features.online.layout import OnlineLayout
    from features.online.store import OnlineStore
    from features.settings import FeatureSettings


def open_online_store(settings: FeatureSettings, layout: OnlineLayout | None = None) -> OnlineStore:
    """Redis when the home names one (production), else the SQLite file under the home."""
    from features.online.layout import OnlineLayout

    version = (layout or OnlineLayout.of_snapshots(settings.snapshot_path)).version
    if settings.redis_url:
        from features.online.redis_store import RedisOnlineStore

        return RedisOnlineStore(settings.redis_url, version)
    from features.online.sqlite_store import SqliteOnlineStore

    return SqliteOnlineStore(settings.online_path, version)
