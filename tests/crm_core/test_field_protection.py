"""Personal fields: encrypted at rest, found by keyed hash, disclosed per role, keys rotate."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from crm_core.auth.policy import FIELD_VISIBILITY, Action, Role, Scope, Visibility, scope_of, visibility_of
from crm_core.entities import Contact
from crm_core.protection import keyring
from crm_core.protection.keyring import FieldKeyError, FieldKeyring
from crm_core.protection.keys import add_primary_key, load_keyring, read_key_file, retire_old_keys
from crm_core.protection.masking import mask_email, mask_phone
from crm_core.protection.rotation import reencrypt
from crm_core.settings import CoreSettings
from tests.crm_core.conftest import NOW, World


def canaries() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"canary.{tag}@example.com",
        "phone": f"+1 555 {int(tag[:6], 16) % 10_000_000:07d}",
        "address": f"{tag} Canary Lane, Springfield",
        "notes": f"prefers calls after 6pm; canary {tag}",
    }


def _raw_database_bytes(engine: Engine) -> bytes:
    path = Path(str(engine.url.database))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _all_text_in_database(engine: Engine) -> str:
    """Every stored value of every table as text, read raw (no column type decodes anything)."""
    chunks: list[str] = []
    with engine.connect() as connection:
        for table in engine.dialect.get_table_names(connection):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(str(value) for value in row)
    return "\n".join(chunks)


def test_canary_values_are_never_in_the_database_in_clear(world: World) -> None:
    secret = canaries()
    body = {"first_name": "Canary", "last_name": "Bird", **secret}
    response = world.client.post("/contacts", json=body, headers=world.headers(Role.SALES_REP))
    assert response.status_code == 201, response.text
    contact_id = response.json()["id"]
    update = {"notes": secret["notes"] + " (updated)"}
    assert world.client.patch(f"/contacts/{contact_id}", json=update, headers=world.headers(Role.SALES_REP)).is_success

    stored = _all_text_in_database(world.engine)
    file_bytes = _raw_database_bytes(world.engine) if world.engine.dialect.name == "sqlite" else b""
    digits = "".join(c for c in secret["phone"] if c.isdigit())
    for name, value in [*secret.items(), ("phone digits", digits)]:
        assert value not in stored, f"{name} stored in clear"
        assert value.encode() not in file_bytes, f"{name} in the database file in clear"


def test_each_role_sees_personal_fields_as_the_policy_says(world: World) -> None:
    secret = canaries()
    created = world.client.post(
        "/contacts", json={"first_name": "C", "last_name": "D", **secret}, headers=world.headers(Role.ADMIN)
    )
    contact_id = created.json()["id"]
    for role in Role:
        headers = world.headers(role)
        responses = [
            world.client.get(f"/contacts/{contact_id}", headers=headers),
            world.client.get(f"/contacts/{contact_id}/360", headers=headers),
            world.client.post("/contacts/lookup", json={"email": secret["email"]}, headers=headers),
            world.client.post("/contacts/lookup", json={"phone": secret["phone"]}, headers=headers),
        ]
        for response in responses:
            if scope_of(role, "contact", Action.READ) is not Scope.ALL:
                assert response.status_code in {403, 404} or secret["email"] not in response.text
                continue
            assert response.status_code == 200, (role, response.text)
            visibility = FIELD_VISIBILITY[role]
            for value in secret.values():
                assert (value in response.text) is (visibility is Visibility.FULL), (role, value)
        if FIELD_VISIBILITY[role] is Visibility.MASKED and scope_of(role, "contact", Action.READ) is Scope.ALL:
            contact = responses[0].json()["contact"]
            assert contact["email"] == mask_email(secret["email"])
            assert contact["phone"] == mask_phone(secret["phone"])
            assert contact["address"] is None and contact["notes"] is None


def test_email_lookup_is_exact_and_ignores_letter_case(world: World) -> None:
    headers = world.headers(Role.ADMIN)
    for first, email in (("Ada", "Ada.Lovelace@Example.com"), ("Alan", "alan@example.com")):
        world.client.post("/contacts", json={"first_name": first, "last_name": "X", "email": email}, headers=headers)
    found = world.client.post("/contacts/lookup", json={"email": " ada.lovelace@EXAMPLE.com"}, headers=headers)
    assert [item["first_name"] for item in found.json()] == ["Ada"]
    partial = world.client.post("/contacts/lookup", json={"email": "ada.lovelace@example"}, headers=headers)
    assert partial.json() == []
    clash = world.client.post(
        "/contacts", json={"first_name": "B", "last_name": "X", "email": "ALAN@example.com"}, headers=headers
    )
    assert clash.status_code == 409
    assert "alan" not in clash.text.lower(), "the error does not echo personal data"


def test_a_ciphertext_moved_to_another_column_does_not_decrypt() -> None:
    keys = FieldKeyring.generate()
    token = keys.encrypt("ada@example.com", "contacts.email")
    assert keys.decrypt(token, "contacts.email") == "ada@example.com"
    with pytest.raises(FieldKeyError, match="does not verify"):
        keys.decrypt(token, "contacts.notes")
    with pytest.raises(FieldKeyError, match="does not hold"):
        FieldKeyring.generate().decrypt(token, "contacts.email")


def test_rotation_rewrites_every_value_under_the_new_key(sqlite_engine: Engine, field_keys: FieldKeyring) -> None:
    with Session(sqlite_engine) as session:
        session.add_all(
            Contact(
                first_name=f"P{i}",
                last_name="R",
                email=f"p{i}@example.com",
                phone="+15550001",
                notes="n",
                lifecycle_stage="lead",
                created_at=NOW,
            )
            for i in range(5)
        )
        session.commit()
    new = FieldKeyring((FieldKeyring.generate().encryption_keys[0], *field_keys.encryption_keys), field_keys.lookup_key)
    try:
        keyring.install(new)
        result = reencrypt(sqlite_engine)
        assert (result.values_rewritten, result.values_already_current) == (15, 0)
        assert reencrypt(sqlite_engine).values_rewritten == 0, "a second run has nothing left to do"
        keyring.install(FieldKeyring(new.encryption_keys[:1], new.lookup_key))  # old key retired
        with Session(sqlite_engine) as session:
            emails = session.scalars(select(Contact.email).order_by(Contact.id)).all()
            found = session.scalars(select(Contact.first_name).where(Contact.email_hash.is_not(None))).all()
        assert emails == [f"p{i}@example.com" for i in range(5)]
        assert len(found) == 5, "lookups survive rotation (the lookup key is unchanged)"
    finally:
        keyring.install(field_keys)


def test_the_key_file_is_private_stable_and_rotates(tmp_path: Path) -> None:
    settings = CoreSettings(home=tmp_path)
    first = load_keyring(settings)
    assert stat.S_IMODE(os.stat(settings.key_file).st_mode) == 0o600
    assert load_keyring(settings) == first, "the same keys on every start"
    token = first.encrypt("x", "contacts.notes")
    rotated = add_primary_key(settings.key_file)
    assert rotated.encryption_keys[1:] == first.encryption_keys
    assert rotated.decrypt(token, "contacts.notes") == "x"
    assert retire_old_keys(settings.key_file).encryption_keys == rotated.encryption_keys[:1]
    assert read_key_file(settings.key_file).lookup_key == first.lookup_key


def test_keys_from_the_environment_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(FieldKeyError, match="both"):
        load_keyring(CoreSettings(home=tmp_path, field_keys=FieldKeyring.generate().encryption_keys[0]))
    with pytest.raises(FieldKeyError, match="32 bytes"):
        load_keyring(CoreSettings(home=tmp_path, field_keys="c2hvcnQ=", lookup_key="c2hvcnQ="))


def test_unknown_roles_see_no_personal_field() -> None:
    assert set(FIELD_VISIBILITY) == set(Role), "every role has a field visibility"
    assert visibility_of("intern") is Visibility.HIDDEN
