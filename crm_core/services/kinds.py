"""The record kinds the API serves, each a configuration of `owned_records`."""

from __future__ import annotations

from crm_core.entities import Account, Contact, Deal, Order, Product, Ticket
from crm_core.protection.lookup import email_lookup
from crm_core.services.contact_history import record_contact_write, tracked_values
from crm_core.services.owned_records import OwnedKind, Reach, UniqueBy

# Every kind is unique by its id in the system it came from.
BY_EXTERNAL_ID = {"external_id": UniqueBy("external_id")}

CONTACTS = OwnedKind(
    entity="contact",
    model=Contact,
    sortable={"id": Contact.id, "created_at": Contact.created_at, "last_name": Contact.last_name},
    unique={"email": UniqueBy("email_hash", email_lookup)} | BY_EXTERNAL_ID,
    references={"account_id": Account},
    custom_entity="contact",
    tracked=lambda contact: tracked_values(contact.lifecycle_stage, contact.custom),
    on_write=record_contact_write,
)

ACCOUNTS = OwnedKind(
    entity="account",
    model=Account,
    unique=BY_EXTERNAL_ID,
    sortable={"id": Account.id, "created_at": Account.created_at, "name": Account.name},
    custom_entity="account",
)

DEALS = OwnedKind(
    entity="deal",
    model=Deal,
    unique=BY_EXTERNAL_ID,
    sortable={"id": Deal.id, "opened_at": Deal.opened_at, "amount": Deal.amount},
    references={"account_id": Account, "contact_id": Contact},
    created_field="opened_at",
    custom_entity="deal",
)

TICKETS = OwnedKind(
    entity="ticket",
    model=Ticket,
    unique=BY_EXTERNAL_ID,
    sortable={"id": Ticket.id, "opened_at": Ticket.opened_at, "priority": Ticket.priority},
    references={"contact_id": Contact},
    created_field="opened_at",
    reach=Reach.CONTACT,
)

ORDERS = OwnedKind(
    entity="order",
    model=Order,
    unique=BY_EXTERNAL_ID,
    sortable={"id": Order.id, "ordered_at": Order.ordered_at, "total": Order.total},
    references={"contact_id": Contact},
    created_field="ordered_at",
    reach=Reach.CONTACT,
)

PRODUCTS = OwnedKind(
    entity="product",
    model=Product,
    sortable={"id": Product.id, "sku": Product.sku, "name": Product.name, "unit_price": Product.unit_price},
    unique={"sku": UniqueBy("sku")} | BY_EXTERNAL_ID,
    created_field=None,
    reach=Reach.CATALOGUE,
)
