"""Canary sweep: personal values planted on a contact appear in no response, page or export
for a role that may not see them in full, across every readable operation of the API."""

from __future__ import annotations

import io
import uuid

import polars as pl

from crm_core.auth.policy import FIELD_VISIBILITY, Role, Visibility
from tests.crm_core.conftest import World
from tests.support.api import operations


def test_no_response_to_a_role_without_full_visibility_holds_a_canary(world: World) -> None:
    tag = uuid.uuid4().hex[:10]
    canaries = {
        "email": f"canary.{tag}@example.com",
        "phone": f"+4420{int(tag[:7], 16) % 10**8:08d}",
        "address": f"{tag} Canary Wharf",
        "notes": f"secret note {tag}",
    }
    admin = world.headers(Role.ADMIN)
    contact = world.client.post("/contacts", json={"first_name": "Can", "last_name": "Ary", **canaries}, headers=admin)
    contact_id = contact.json()["id"]
    world.client.put(f"/contacts/{contact_id}/consents/email", json={"status": "granted", "source": "t"}, headers=admin)
    world.client.post("/tickets", json={"contact_id": contact_id, "channel": "chat", "subject": "hi"}, headers=admin)
    reads = [
        path.replace("{contact_id}", str(contact_id))
        for (method, path) in operations()
        if method == "GET" and "{" not in path.replace("{contact_id}", "")
    ]
    extra = [
        ("/exports/contacts", {"consent": "email"}),
        ("/exports/contacts", {"consent": "email", "format": "parquet"}),
    ]
    needles = [*canaries.values(), "".join(c for c in canaries["phone"] if c.isdigit())]
    checked = 0
    for role in Role:
        if FIELD_VISIBILITY[role] is Visibility.FULL:
            continue
        headers = world.headers(role)
        for path, params in [*((path, {"entity": "contact"}) for path in reads), *extra]:
            response = world.client.get(path, params=params, headers=headers)
            body = response.content
            if params.get("format") == "parquet" and response.status_code == 200:
                body = pl.read_parquet(io.BytesIO(body)).write_csv().encode()
            for needle in needles:
                assert needle.encode() not in body, f"{role.value} GET {path}: {needle} leaked"
            checked += 1
        lookup = world.client.post("/contacts/lookup", json={"email": canaries["email"]}, headers=headers)
        assert all(needle not in lookup.text for needle in needles), role
    assert checked >= 3 * 10, "every masked or hidden role read every page"
    full = world.client.get(f"/contacts/{contact_id}", headers=admin).text
    assert all(value in full for value in canaries.values()), "the canaries are really there for full-view roles"
