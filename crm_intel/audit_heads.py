"""The audit chain's head, exported outside the database at each verify and backup.

A keyed chain stops anyone without the key from rewriting history; the exported heads also
pin what was there at each check, so even a rewrite by someone holding the key (or a database
restored from an older copy) is found, back to the last export. The file lives in the data
home beside the keys, not in the database; copy it off the machine to make it stronger still.
"""

from __future__ import annotations

import json
from pathlib import Path

from crm_core.clock import utc_now
from crm_core.services.audit import ChainHead

HEADS_FILE = Path("audit") / "exported_heads.jsonl"


def exported_heads(home: Path) -> list[ChainHead]:
    path = home / HEADS_FILE
    if not path.is_file():
        return []
    heads = []
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            heads.append(ChainHead(int(entry["last_event_id"]), str(entry["last_hash"])))
    return heads


def export_head(home: Path, head: ChainHead, *, reason: str) -> None:
    path = home / HEADS_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entry = {"at": utc_now().isoformat(), "reason": reason, "last_event_id": head.last_event_id}
    with path.open("a") as heads:
        heads.write(json.dumps({**entry, "last_hash": head.last_hash}) + "\n")
