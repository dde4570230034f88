"""The record kinds a file can bring in (besides contacts, which match people their own way),
each a configuration of the one import pipeline: its fields, what they name, its loader."""

from __future__ import annotations

from typing import Any

from crm_core.auth.policy import Action
from crm_core.entities import Account, Activity, Channel, Contact, Order, Product
from crm_core.imports.bulk_records import LoadContext, RecordKind
from crm_core.imports.loading import new_records_loader
from crm_core.imports.order_loading import load_orders
from crm_core.imports.references import Reference
from crm_core.imports.typed_columns import FieldType, ImportField
from crm_core.protection.lookup import email_lookup
from crm_core.schemas.catalogue import OrderStatus
from crm_core.services.ownership import resolve_owner

EXTERNAL_ID = ImportField(
    max_length=120, description="the record's id in the system it came from (a re-import matches on it)"
)
WHEN = ImportField(FieldType.TIMESTAMP)
CONTACT_BY_ID = Reference(Contact, "external_id", "contact_id", "contact with external id")
CONTACT_BY_EMAIL = Reference(Contact, "email_hash", "contact_id", "contact with email", lookup=email_lookup)
CONTACT_FIELDS = {
    "contact": ImportField(max_length=120, description="the customer's external id"),
    "contact_email": ImportField(max_length=320, description="the customer's email"),
}
CONTACT_REFERENCES = {"contact": CONTACT_BY_ID, "contact_email": CONTACT_BY_EMAIL}
CONTACT_NAMED = (("contact", "contact_email"),)


def _owned_by_importer(entity: str) -> Any:
    def defaults(ctx: LoadContext) -> dict[str, Any]:
        return {"owner_id": resolve_owner(ctx.uow, ctx.principal, entity, Action.CREATE, None), "created_at": ctx.now}

    return defaults


ACCOUNTS = RecordKind(
    name="accounts",
    entity="account",
    model=Account,
    fields={
        "external_id": EXTERNAL_ID,
        "name": ImportField(required=True, max_length=200),
        "industry": ImportField(max_length=80),
        "created_at": WHEN,
    },
    loader=new_records_loader(
        Account, ("external_id", "name", "industry", "owner_id", "created_at"), defaults=_owned_by_importer("account")
    ),
    not_in_future=("created_at",),
)

PRODUCTS = RecordKind(
    name="products",
    entity="product",
    model=Product,
    fields={
        "external_id": EXTERNAL_ID,
        "sku": ImportField(
            required=True, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="a SKU (A-Z, 0-9, . _ -)"
        ),
        "name": ImportField(required=True, max_length=200),
        "category": ImportField(max_length=80),
        "unit_price": ImportField(FieldType.MONEY, required=True),
    },
    loader=new_records_loader(
        Product,
        ("external_id", "sku", "name", "category", "unit_price"),
        keys=("external_id", "sku"),
        defaults=lambda _ctx: {"category": "uncategorised"},
    ),
)

ACTIVITIES = RecordKind(
    name="activities",
    entity="activity",
    model=Activity,
    fields={
        "external_id": EXTERNAL_ID,
        **CONTACT_FIELDS,
        "type": ImportField(
            required=True, max_length=40, pattern=r"^[a-z][a-z0-9_]*$", description="a type such as call or email_open"
        ),
        "channel": ImportField(FieldType.CHOICE, required=True, choices=tuple(channel.value for channel in Channel)),
        "occurred_at": ImportField(FieldType.TIMESTAMP, required=True),
    },
    references=CONTACT_REFERENCES,
    one_of=CONTACT_NAMED,
    not_in_future=("occurred_at",),
    loader=new_records_loader(Activity, ("external_id", "contact_id", "type", "channel", "occurred_at")),
)

ORDERS = RecordKind(
    name="orders",
    entity="order",
    model=Order,
    fields={
        "external_id": EXTERNAL_ID,
        **CONTACT_FIELDS,
        "ordered_at": ImportField(FieldType.TIMESTAMP, required=True),
        "status": ImportField(FieldType.CHOICE, choices=tuple(status.value for status in OrderStatus)),
        "total": ImportField(FieldType.MONEY, description="the order's amount; else the sum of its lines"),
        "product": ImportField(max_length=120, description="a line's product by its external id"),
        "sku": ImportField(max_length=64, description="a line's product by SKU"),
        "quantity": ImportField(FieldType.QUANTITY),
        "unit_price": ImportField(FieldType.MONEY, description="a line's price; else the catalogue's"),
    },
    references=CONTACT_REFERENCES
    | {
        "product": Reference(Product, "external_id", "product_id", "product with external id"),
        "sku": Reference(Product, "sku", "product_id", "product with SKU"),
    },
    one_of=CONTACT_NAMED,
    not_in_future=("ordered_at",),
    loader=load_orders,
)

RECORD_KINDS = {kind.name: kind for kind in (ACCOUNTS, PRODUCTS, ACTIVITIES, ORDERS)}
