"""Who may add a person, and what they are told when they may not.

Two kinds of person are held back from a caller: one who already exists under an owner the
caller cannot reach (another team's contact), and one who was erased on request. Telling a
sales rep which of the two it is leaks either another team's customer list or the fact of an
erasure, so both get the same answer; an administrator, who reaches everything, is told
plainly, and only an administrator may re-add an erased person (`allow_erased`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Erasure
from crm_core.errors import ConflictError, ForbiddenError
from crm_core.protection.lookup import email_lookup, phone_lookup
from crm_core.unit_of_work import UnitOfWork
from crm_core.value_sets import where_among

HELD_BACK = (
    "matches a person this CRM keeps out of your reach (another team's contact, or someone "
    "erased on request); ask an administrator"
)
ERASED = "belongs to a person erased on request before; an administrator may re-add them with allow_erased"


def may_readd_erased(principal: Principal) -> bool:
    """Re-adding an erased person is the erasing role's act (administrators)."""
    return principal.scope("data_subject", Action.DELETE) is not Scope.NONE


def erased_hashes(uow: UnitOfWork, hashes: Iterable[str]) -> set[str]:
    """The lookup hashes among `hashes` that belong to someone erased before."""
    wanted = sorted({value for value in hashes if value})
    if not wanted:
        return set()
    dialect = uow.session.get_bind().dialect.name
    query = select(Erasure.email_hash, Erasure.phone_hash)
    rows = uow.session.execute(where_among(query, (Erasure.email_hash, Erasure.phone_hash), wanted, dialect))
    chosen = set(wanted)
    return {value for row in rows for value in row if value in chosen}


def person_lookups(email: str | None, phone: str | None) -> dict[str, str | None]:
    """The lookup hashes a new or changed person is recognised by, per field."""
    return {"email": email_lookup(email), "phone": phone_lookup(phone)}


def refuse_erased_person(
    uow: UnitOfWork, principal: Principal, lookups: dict[str, str | None], *, allow_erased: bool
) -> None:
    """Raise unless a person with these lookup hashes ({field: hash}) may be added by `principal`."""
    if allow_erased and not may_readd_erased(principal):
        raise ForbiddenError("only an administrator may re-add a person erased on request")
    erased = erased_hashes(uow, (value for value in lookups.values() if value))
    for field, value in lookups.items():
        if value and value in erased and not allow_erased:
            raise ConflictError(field, ERASED if may_readd_erased(principal) else HELD_BACK)
