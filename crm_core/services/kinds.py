"""The owned-record kinds the API serves, each a configuration of `owned_records`."""

from __future__ import annotations

from crm_core.entities import Account, Contact, Deal
from crm_core.services.owned_records import OwnedKind

CONTACTS = OwnedKind(
    entity="contact",
    model=Contact,
    sortable={"id": Contact.id, "created_at": Contact.created_at, "last_name": Contact.last_name},
    unique=("email",),
    references={"account_id": Account},
)

ACCOUNTS = OwnedKind(
    entity="account",
    model=Account,
    sortable={"id": Account.id, "created_at": Account.created_at, "name": Account.name},
)

DEALS = OwnedKind(
    entity="deal",
    model=Deal,
    sortable={"id": Deal.id, "opened_at": Deal.opened_at, "amount": Deal.amount},
    references={"account_id": Account, "contact_id": Contact},
    created_field="opened_at",
)
