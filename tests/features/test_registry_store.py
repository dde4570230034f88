"""The Feast registry survives a writer dying mid-write: a reader sees the old registry or the
new one, never an empty or partial file (Feast's own file store truncates, then writes)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest

from features.registry_store import AtomicFileRegistryStore
from features.settings import FeatureSettings
from features.store import apply_definitions, open_store

KILLS = 15


def _published(home: Path) -> FeatureSettings:
    settings = FeatureSettings(home=home)
    apply_definitions(open_store(settings), settings)
    return settings


def _keep_committing(settings: FeatureSettings, started: multiprocessing.synchronize.Event) -> None:
    store = open_store(settings)
    store.list_feature_views()  # loads the registry into the cache that commit() writes back
    started.set()
    while True:
        store.registry.commit()  # type: ignore[no-untyped-call]


def test_the_store_writes_its_registry_with_the_atomic_store(tmp_path: Path) -> None:
    store = open_store(_published(tmp_path / "home"))
    assert isinstance(store.registry._registry_store, AtomicFileRegistryStore)  # type: ignore[attr-defined]


def test_a_failed_write_leaves_the_previous_registry_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _published(tmp_path / "home")
    registry = settings.registry_path
    before = registry.read_bytes()

    def dies(*_args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", dies)
    store = open_store(settings)
    store.list_feature_views()
    with pytest.raises(OSError, match="disk gone"):
        store.registry.commit()  # type: ignore[no-untyped-call]
    assert registry.read_bytes() == before
    assert [path.name for path in registry.parent.iterdir() if path.name.endswith(".partial")] == []


@pytest.mark.slow
def test_sigkilled_registry_writers_never_leave_a_registry_without_its_views(tmp_path: Path) -> None:
    settings = _published(tmp_path / "home")
    expected = sorted(view.name for view in open_store(settings).list_feature_views())
    assert expected, "the definitions register feature views"
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload([__name__, "feast", "features.store"])
    rng = random.Random(11)
    for _ in range(KILLS):
        started = fork.Event()
        child = fork.Process(target=_keep_committing, args=(settings, started))
        child.start()
        assert started.wait(60), "the writer did not start"
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        seen = sorted(view.name for view in open_store(settings).list_feature_views())
        assert seen == expected
