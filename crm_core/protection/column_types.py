"""A column type that stores text encrypted and hands plaintext to the application.

Doing this in the type, not in services, means no code path (ORM, Core bulk insert, raw
select) can write a personal field in clear by forgetting a call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from crm_core.protection.keyring import active


class EncryptedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        """`column` ("table.column") is bound into each ciphertext as associated data."""
        super().__init__()
        self.column = column

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return active().encrypt(str(value), self.column)

    def bind_many(self, values: list[Any]) -> list[str | None]:
        """What `process_bind_param` gives for each value, for a bulk write's whole column."""
        sealed = iter(active().encrypt_many([str(value) for value in values if value is not None], self.column))
        return [None if value is None else next(sealed) for value in values]

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return active().decrypt(str(value), self.column)
