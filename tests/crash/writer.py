"""A batch write-back run as its own process, so a test can SIGKILL it at any moment.

It writes deterministic scores (a function of contact and version, standing in for a model:
the test is about the write path, which is the product's own `write_back_resumably`) and says
"writing" once it is about to commit its first chunk. The crash drill calls `write_scores` in a
forked child instead, which skips an interpreter's start-up on each of its fifty runs.

    python -m tests.crash.writer DATABASE_URL MODEL_VERSION CONTACTS CHUNK
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_engine, make_session_factory
from crm_core.protection import keyring
from crm_core.protection.keys import load_keyring
from crm_core.services.predictions import NewPrediction
from crm_core.services.write_back_runs import RunKey, write_back_resumably
from crm_core.settings import CoreSettings
from tests.crash.barrier import wait_for_go

FEATURE_TIMESTAMP = datetime(2026, 11, 1)
MODEL = "churn"


def expected_score(contact_id: int, version: str) -> float:
    return (zlib.crc32(f"{contact_id}:{version}".encode()) % 10_000) / 10_000


def write_scores(url: str, version: str, contacts: int, chunk: int, writing: Callable[[], None]) -> None:
    """Write `version`'s score for every contact, resuming the run; `writing` is called once the
    first chunk is about to be written."""
    engine = make_engine(url)

    def chunks(after: int) -> Iterator[list[NewPrediction]]:
        writing()
        for start in range(after + 1, contacts + 1, chunk):
            yield [
                NewPrediction(
                    contact_id=contact_id,
                    model_name=MODEL,
                    model_version=version,
                    mlflow_run_id="crash-test",
                    score=expected_score(contact_id, version),
                    band="low",
                    top_factors=[],
                    feature_timestamp=FEATURE_TIMESTAMP,
                )
                for contact_id in range(start, min(start + chunk, contacts + 1))
            ]

    write_back_resumably(
        make_session_factory(engine),
        Principal.system(Role.MODEL_SERVICE, "crash test"),
        RunKey(MODEL, version, FEATURE_TIMESTAMP),
        total_rows=contacts,
        chunks=chunks,
        scored_at=datetime(2026, 11, 2),
    )
    engine.dispose()


def main(url: str, version: str, contacts: int, chunk: int) -> None:
    # The keys come from the environment, as for any process of the product: the write-back's
    # audit events are sealed with a key derived from them.
    keyring.install(load_keyring(CoreSettings(database_url=url)))
    wait_for_go()
    write_scores(url, version, contacts, chunk, lambda: print("writing", flush=True))
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
