"""The record kinds a file can bring in (besides contacts, which match people their own way),
each a configuration of the one import pipeline: its fields, what they name, its loader."""

from __future__ import annotations

from typing import Any

import polars as pl

from crm_core.auth.policy import Action
from crm_core.entities import (
    Account,
    Activity,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    ContactChange,
    Deal,
    DealStage,
    DealStageChange,
    Order,
    Product,
    Ticket,
)
from crm_core.imports.bulk_records import LoadContext, Loaded, OneOf, RecordKind, RowRule
from crm_core.imports.change_loading import load_contact_changes
from crm_core.imports.consent_loading import load_consents
from crm_core.imports.deal_loading import CLOSED_STAGES, load_deals, load_stage_moves
from crm_core.imports.loading import new_records_loader
from crm_core.imports.order_loading import load_orders
from crm_core.imports.references import Reach, Reference
from crm_core.imports.typed_columns import FieldType, ImportField
from crm_core.protection.lookup import email_lookup
from crm_core.schemas.catalogue import OrderStatus
from crm_core.schemas.tickets import DONE_STATUSES, TicketPriority, TicketStatus
from crm_core.services.ownership import resolve_owner

EXTERNAL_ID = ImportField(
    max_length=120, description="the record's id in the system it came from (a re-import matches on it)"
)
WHEN = ImportField(FieldType.TIMESTAMP)
# A record hangs off a contact the importer may add that kind of record to.
CONTACT_REACH = Reach(Action.CREATE)
CONTACT_BY_ID = Reference(Contact, "external_id", "contact_id", "contact with external id", reach=CONTACT_REACH)
CONTACT_BY_EMAIL = Reference(
    Contact, "email_hash", "contact_id", "contact with email", lookup=email_lookup, reach=CONTACT_REACH
)
CONTACT_FIELDS = {
    "contact": ImportField(max_length=120, description="the customer's external id"),
    "contact_email": ImportField(max_length=320, description="the customer's email"),
}
CONTACT_REFERENCES = {"contact": CONTACT_BY_ID, "contact_email": CONTACT_BY_EMAIL}
CONTACT_NAMED = (OneOf(("contact", "contact_email")),)


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


def _load_deals(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
    return load_deals(ctx, parsed, resolve_owner(ctx.uow, ctx.principal, "deal", Action.CREATE, None))


STAGES = tuple(stage.value for stage in DealStage)
CLOSED = pl.col("stage").is_in(CLOSED_STAGES)

DEALS = RecordKind(
    name="deals",
    entity="deal",
    model=Deal,
    fields={
        "external_id": EXTERNAL_ID,
        "name": ImportField(required=True, max_length=200),
        "amount": ImportField(FieldType.MONEY),
        "stage": ImportField(FieldType.CHOICE, choices=STAGES),
        **CONTACT_FIELDS,
        "account": ImportField(max_length=120, description="the account's external id"),
        "opened_at": WHEN,
        "closed_at": WHEN,
    },
    references=CONTACT_REFERENCES
    | {
        "account": Reference(
            Account, "external_id", "account_id", "account with external id", reach=Reach(Action.READ, "account")
        )
    },
    not_in_future=("opened_at", "closed_at"),
    rules=(
        RowRule("closed_at", CLOSED & pl.col("closed_at").is_null(), "a closed deal needs the date it closed"),
        RowRule("closed_at", ~CLOSED & pl.col("closed_at").is_not_null(), "an open deal has no close date"),
        RowRule("closed_at", pl.col("closed_at") < pl.col("opened_at"), "is before the deal opened"),
    ),
    loader=_load_deals,
)

DEAL_STAGES = RecordKind(
    name="deal_stages",
    entity="deal",
    model=DealStageChange,
    fields={
        "deal": ImportField(required=True, max_length=120, description="the deal's external id"),
        "stage": ImportField(FieldType.CHOICE, required=True, choices=STAGES),
        "changed_at": ImportField(FieldType.TIMESTAMP, required=True),
    },
    references={
        "deal": Reference(Deal, "external_id", "deal_id", "deal with external id", reach=Reach(Action.UPDATE, "deal"))
    },
    not_in_future=("changed_at",),
    loader=load_stage_moves,
)

DONE = pl.col("status").is_in([status.value for status in DONE_STATUSES])

TICKETS = RecordKind(
    name="tickets",
    entity="ticket",
    model=Ticket,
    fields={
        "external_id": EXTERNAL_ID,
        **CONTACT_FIELDS,
        "channel": ImportField(FieldType.CHOICE, required=True, choices=tuple(channel.value for channel in Channel)),
        "subject": ImportField(required=True, max_length=200),
        "priority": ImportField(FieldType.CHOICE, choices=tuple(priority.value for priority in TicketPriority)),
        "status": ImportField(FieldType.CHOICE, choices=tuple(status.value for status in TicketStatus)),
        "opened_at": WHEN,
        "resolved_at": WHEN,
        "satisfaction": ImportField(FieldType.INTEGER, minimum=1, maximum=5, description="1 (poor) to 5 (great)"),
    },
    references=CONTACT_REFERENCES,
    one_of=CONTACT_NAMED,
    not_in_future=("opened_at", "resolved_at"),
    rules=(
        RowRule("resolved_at", pl.col("resolved_at") < pl.col("opened_at"), "is before the ticket was opened"),
        RowRule(
            "resolved_at",
            DONE & pl.col("resolved_at").is_null(),
            "a resolved or closed ticket needs the date it was resolved",
        ),
        RowRule(
            "satisfaction",
            pl.col("satisfaction").is_not_null() & pl.col("resolved_at").is_null(),
            "only a resolved ticket is rated",
        ),
    ),
    loader=new_records_loader(
        Ticket,
        (
            "external_id",
            "contact_id",
            "channel",
            "priority",
            "status",
            "subject",
            "opened_at",
            "resolved_at",
            "satisfaction",
        ),
        defaults=lambda ctx: {
            "opened_at": ctx.now,
            "priority": TicketPriority.NORMAL.value,
            "status": pl.when(pl.col("resolved_at").is_not_null())
            .then(pl.lit(TicketStatus.RESOLVED.value))
            .otherwise(pl.lit(TicketStatus.OPEN.value)),
        },
    ),
)

CONSENTS = RecordKind(
    name="consents",
    entity="consent",
    model=Consent,
    fields={
        **CONTACT_FIELDS,
        "channel": ImportField(FieldType.CHOICE, required=True, choices=tuple(channel.value for channel in Channel)),
        "status": ImportField(FieldType.CHOICE, required=True, choices=tuple(status.value for status in ConsentStatus)),
        "recorded_at": ImportField(FieldType.TIMESTAMP, required=True),
        "source": ImportField(max_length=120, description="where the decision was given (a form, a call)"),
    },
    references=CONTACT_REFERENCES,
    one_of=CONTACT_NAMED,
    not_in_future=("recorded_at",),
    loader=load_consents,
)


CONTACT_CHANGES = RecordKind(
    name="contact_changes",
    entity="contact",
    model=ContactChange,
    fields={
        **CONTACT_FIELDS,
        "field": ImportField(
            required=True, max_length=70, description="lifecycle_stage, or a custom field (custom.<name>)"
        ),
        "value": ImportField(max_length=1000, description="what the field became (empty: it was cleared)"),
        "changed_at": ImportField(FieldType.TIMESTAMP, required=True),
    },
    # Changing a contact's stage is an update of that contact: only contacts the importer may update.
    references={
        "contact": Reference(
            Contact, "external_id", "contact_id", "contact with external id", reach=Reach(Action.UPDATE, "contact")
        ),
        "contact_email": Reference(
            Contact,
            "email_hash",
            "contact_id",
            "contact with email",
            lookup=email_lookup,
            reach=Reach(Action.UPDATE, "contact"),
        ),
    },
    one_of=CONTACT_NAMED,
    not_in_future=("changed_at",),
    loader=load_contact_changes,
)

RECORD_KINDS = {
    kind.name: kind
    for kind in (ACCOUNTS, PRODUCTS, ACTIVITIES, ORDERS, DEALS, DEAL_STAGES, TICKETS, CONSENTS, CONTACT_CHANGES)
}
