"""Keys for encrypting personal fields at rest and for hashing them into lookup values.

Ciphertexts are AES-256-GCM, tagged with the id of the key that wrote them, so a keyring can
hold the new primary key beside older ones during a rotation and read both. The column a value
belongs to is bound in as associated data: a ciphertext copied into another column (an email
pasted over a note) fails to decrypt instead of leaking. Lookups use a separate HMAC key, so the
lookup hash reveals nothing without it and equal values still find each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_core.errors import CrmError

FORMAT = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32


class FieldKeyError(CrmError, ValueError):
    """A key is malformed, missing from the keyring, or a ciphertext does not verify."""


def new_key() -> str:
    """A fresh key in the text form settings and key files hold (url-safe base64 of 32 bytes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError as error:
        raise FieldKeyError(f"a field key is not url-safe base64: {error}") from error
    if len(raw) != KEY_BYTES:
        raise FieldKeyError(f"a field key must decode to {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def key_id(raw: bytes) -> str:
    """A short public name for a key, stored with each ciphertext; reveals nothing of the key."""
    return hashlib.sha256(b"crm-intel key id" + raw).hexdigest()[:12]


@dataclass(frozen=True)
class FieldKeyring:
    """Encryption keys (the first encrypts, all decrypt) and the lookup-hash key."""

    encryption_keys: tuple[str, ...]
    lookup_key: str
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)
    _primary_id: str = field(init=False, repr=False, compare=False)
    _lookup_raw: bytes = field(init=False, repr=False, compare=False)
    _derived: dict[str, bytes] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.encryption_keys:
            raise FieldKeyError("a keyring needs at least one encryption key")
        raw_keys = [_decode_key(text) for text in self.encryption_keys]
        object.__setattr__(self, "_ciphers", {key_id(raw): AESGCM(raw) for raw in raw_keys})
        object.__setattr__(self, "_primary_id", key_id(raw_keys[0]))
        object.__setattr__(self, "_lookup_raw", _decode_key(self.lookup_key))

    @classmethod
    def generate(cls) -> FieldKeyring:
        return cls((new_key(),), new_key())

    @property
    def primary_key_id(self) -> str:
        return self._primary_id

    def encrypt(self, plaintext: str, column: str) -> str:
        return self.encrypt_many([plaintext], column)[0]

    def encrypt_many(self, plaintexts: Iterable[str], column: str) -> list[str]:
        """Each value sealed with its own nonce; one call for a bulk import's column."""
        values = list(plaintexts)
        cipher, associated = self._ciphers[self._primary_id], column.encode()
        prefix = f"{FORMAT}:{self._primary_id}:"
        nonces = os.urandom(NONCE_BYTES * len(values))  # one draw, cut into a fresh nonce per value
        sealed = []
        for index, plaintext in enumerate(values):
            nonce = nonces[index * NONCE_BYTES : (index + 1) * NONCE_BYTES]
            blob = nonce + cipher.encrypt(nonce, plaintext.encode(), associated)
            sealed.append(prefix + base64.urlsafe_b64encode(blob).decode())
        return sealed

    def decrypt(self, token: str, column: str) -> str:
        try:
            version, kid, payload = token.split(":", 2)
        except ValueError:
            raise FieldKeyError(f"{column}: stored value is not a field ciphertext") from None
        if version != FORMAT:
            raise FieldKeyError(f"{column}: unknown ciphertext format '{version}'")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise FieldKeyError(f"{column}: written with key {kid}, which this keyring does not hold")
        blob = base64.urlsafe_b64decode(payload.encode())
        try:
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], column.encode()).decode()
        except InvalidTag:
            raise FieldKeyError(f"{column}: ciphertext does not verify (tampered, or another column's)") from None

    def written_with_primary(self, token: str) -> bool:
        return token.split(":", 2)[1:2] == [self._primary_id]

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose (the audit chain, model seals), derived from the lookup key:
        it lives wherever the field keys live, never in the database, and rotating the
        encryption keys leaves it unchanged, so what it sealed stays verifiable. Derived once per
        purpose: every audit event and every verified one asks for it."""
        if purpose not in self._derived:
            label = b"crm-intel derived key: " + purpose.encode()
            self._derived[purpose] = hmac.new(self._lookup_raw, label, hashlib.sha256).digest()
        return self._derived[purpose]

    def lookup_hash(self, normalised: str) -> str:
        """The keyed hash equal values share; callers normalise first (see `normalise`)."""
        return self.lookup_hashes([normalised])[0]

    def lookup_hashes(self, normalised: Iterable[str]) -> list[str]:
        key = self._lookup_raw
        return [hmac.digest(key, value.encode(), "sha256").hex() for value in normalised]


_active: FieldKeyring | None = None


def install(keyring: FieldKeyring) -> None:
    """Make `keyring` the one the CRM's encrypted columns use in this process.

    Column types are process-wide (declared once on the entities), so their key is too; the
    application installs it when it opens the database, before any row is read or written.
    """
    global _active  # noqa: PLW0603 - one keyring per process, like the schema it serves
    _active = keyring


def active() -> FieldKeyring:
    if _active is None:
        raise FieldKeyError(
            "field encryption keys are not loaded: open the CRM through its application context "
            "(crm_intel.context.AppContext) or call crm_core.protection.keyring.install() first"
        )
    return _active


MODEL_SEAL_PURPOSE = "model seal"


def model_seal_key() -> bytes:
    """The key registered models and the champion alias are sealed with (see features.model_registry.seals)."""
    return active().derived_key(MODEL_SEAL_PURPOSE)
