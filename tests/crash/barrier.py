"""Start line for writer processes: each says "ready" once its imports are done and waits for
the test to say "go" on stdin, so slow-starting writers still overlap the fast ones."""

from __future__ import annotations

import os
import sys

ENV = "CRM_TEST_BARRIER"


def wait_for_go() -> None:
    if os.environ.get(ENV) != "1":
        return
    print("ready", flush=True)
    sys.stdin.readline()
