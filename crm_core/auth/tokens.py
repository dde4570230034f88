"""Bearer tokens: random, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "crm_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # A fast hash is right here: tokens carry 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()
