"""A CRM API client as its own process: creates contacts and edits them through the real app
(in-process ASGI), so several of these contend for one SQLite file like several workers would.

    python -m tests.crash.api_editor DATABASE_URL TOKEN SECONDS

Edits for SECONDS (so it overlaps the other writers whenever they start), then prints one
JSON line: how many contacts it created, the HTTP statuses seen and any error text.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from fastapi.testclient import TestClient

from crm_core.api import create_api
from crm_core.db import make_session_factory
from crm_core.opening import open_crm
from crm_core.settings import CoreSettings
from tests.crash.barrier import wait_for_go

# A busy user edits a few records a second, not thousands: without a pause, six clients in a
# tight loop would hold SQLite's write lock back to back and starve the long transactions.
PAUSE_SECONDS = 0.02


def main(url: str, token: str, seconds: float) -> None:
    settings = CoreSettings(database_url=url)
    client = TestClient(create_api(make_session_factory(open_crm(settings, migrate=False)), settings))
    wait_for_go()
    headers = {"Authorization": f"Bearer {token}"}
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    deadline, number = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        time.sleep(PAUSE_SECONDS)
        number += 1
        created = client.post("/contacts", json={"first_name": "Edit", "last_name": f"N{number}"}, headers=headers)
        statuses[created.status_code] += 1
        if created.status_code != 201:
            errors.append(created.text[:300])
            continue
        changed = client.patch(
            f"/contacts/{created.json()['id']}", json={"last_name": f"Changed{number}"}, headers=headers
        )
        statuses[changed.status_code] += 1
        if changed.status_code != 200:
            errors.append(changed.text[:300])
    report = {"created": number, "statuses": {str(code): count for code, count in statuses.items()}, "errors": errors}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
