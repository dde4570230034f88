"""The authorization matrix: every API operation x every role x a record that is the caller's
own, a teammate's, or another team's, with the expected outcome computed from the policy table.

Operations come from the OpenAPI document, so a new route without a recipe here fails the test.
Every case gets fresh records, and for every refused request (403, 404, 422, or a batch row
rejected) the database content is compared before and after: it must be unchanged.
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Engine, select

from crm_core.auth.policy import POLICY, Action, Role, Scope, scope_of
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import (
    Account,
    Base,
    Consent,
    Contact,
    Deal,
    DealStageChange,
    Job,
    Order,
    OrderLine,
    Product,
    Segment,
    SegmentMember,
    Ticket,
    User,
)
from crm_core.services.identity import create_integration_token
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import NOW, World
from tests.support.api import operations

TARGETS = ("own", "team", "other")
CATALOGUES = frozenset({"product", "custom_field"})
TOMORROW = utc_now() + timedelta(days=1)


@dataclass(frozen=True)
class Records:
    """Fresh records for one case, all owned by (or belonging to) `owner_id`."""

    owner_id: int
    account: int
    contact: int
    email: str
    deal: int
    ticket: int
    order: int
    token: int
    job: int


@dataclass(frozen=True)
class Case:
    role: Role
    target: str
    records: Records
    product: int
    segment: int


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    files: dict[str, Any] | None = None


def ids_of_items(response: httpx.Response) -> set[int]:
    return {item["id"] for item in response.json()["items"]}


def ids_of_list(response: httpx.Response) -> set[int]:
    return {item["id"] for item in response.json()}


def ids_of_csv(response: httpx.Response) -> set[int]:
    return {int(row["id"]) for row in csv.DictReader(io.StringIO(response.text))}


@dataclass(frozen=True)
class Recipe:
    """How to call one operation for a case.

    shape: "record" (the path names the target: out of reach is 404), "list" (the target is
    listed exactly when in reach), "create" (the body points at the target: out of reach is
    refused), "open" (no target: only the role decides).
    """

    shape: str
    call: Callable[[Case], Call]
    target_id: Callable[[Case], int] = lambda case: case.records.contact
    listed: Callable[[httpx.Response], set[int]] = ids_of_items
    refused: Callable[[httpx.Response], bool] = lambda response: response.status_code == 422


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


NEWEST = {"limit": 200, "sort": "-id"}
R = Recipe
RECIPES: dict[tuple[str, str], Recipe] = {
    ("GET", "/contacts"): R("list", lambda c: Call("/contacts", params=NEWEST)),
    ("POST", "/contacts"): R(
        "create",
        lambda c: Call("/contacts", json={"first_name": "N", "last_name": "M", "owner_id": c.records.owner_id}),
    ),
    ("POST", "/contacts/lookup"): R(
        "list", lambda c: Call("/contacts/lookup", json={"email": c.records.email}), listed=ids_of_list
    ),
    ("GET", "/contacts/{contact_id}"): R("record", lambda c: Call(f"/contacts/{c.records.contact}")),
    ("PATCH", "/contacts/{contact_id}"): R(
        "record", lambda c: Call(f"/contacts/{c.records.contact}", json={"last_name": "Changed"})
    ),
    ("GET", "/contacts/{contact_id}/360"): R("record", lambda c: Call(f"/contacts/{c.records.contact}/360")),
    ("GET", "/contacts/{contact_id}/consents"): R("record", lambda c: Call(f"/contacts/{c.records.contact}/consents")),
    ("PUT", "/contacts/{contact_id}/consents/{channel}"): R(
        "record",
        lambda c: Call(f"/contacts/{c.records.contact}/consents/sms", json={"status": "granted", "source": "matrix"}),
    ),
    ("GET", "/contacts/{contact_id}/subject-export"): R(
        "record", lambda c: Call(f"/contacts/{c.records.contact}/subject-export")
    ),
    ("POST", "/contacts/{contact_id}/erasure"): R(
        "record", lambda c: Call(f"/contacts/{c.records.contact}/erasure", json={"reason": "subject_request"})
    ),
    ("GET", "/accounts"): R("list", lambda c: Call("/accounts", params=NEWEST), target_id=lambda c: c.records.account),
    ("POST", "/accounts"): R("create", lambda c: Call("/accounts", json={"name": "A", "owner_id": c.records.owner_id})),
    ("GET", "/accounts/{account_id}"): R("record", lambda c: Call(f"/accounts/{c.records.account}")),
    ("PATCH", "/accounts/{account_id}"): R(
        "record", lambda c: Call(f"/accounts/{c.records.account}", json={"industry": "retail"})
    ),
    ("GET", "/deals"): R("list", lambda c: Call("/deals", params=NEWEST), target_id=lambda c: c.records.deal),
    ("POST", "/deals"): R(
        "create",
        lambda c: Call(
            "/deals",
            json={
                "name": "D",
                "amount": "10.00",
                "contact_id": c.records.contact,
                "account_id": c.records.account,
                "owner_id": c.records.owner_id,
            },
        ),
    ),
    ("GET", "/deals/{deal_id}"): R("record", lambda c: Call(f"/deals/{c.records.deal}")),
    ("PATCH", "/deals/{deal_id}"): R("record", lambda c: Call(f"/deals/{c.records.deal}", json={"name": "Renamed"})),
    ("POST", "/deals/{deal_id}/stage"): R(
        "record", lambda c: Call(f"/deals/{c.records.deal}/stage", json={"stage": "qualification"})
    ),
    ("GET", "/deals/{deal_id}/history"): R("record", lambda c: Call(f"/deals/{c.records.deal}/history")),
    ("POST", "/activities/batch"): R(
        "create",
        lambda c: Call(
            "/activities/batch",
            json={
                "activities": [
                    {"contact_id": c.records.contact, "type": "call", "channel": "phone", "occurred_at": str(NOW)}
                ]
            },
        ),
        refused=lambda response: response.status_code == 200 and response.json()["inserted"] == 0,
    ),
    ("GET", "/tickets"): R("list", lambda c: Call("/tickets", params=NEWEST), target_id=lambda c: c.records.ticket),
    ("POST", "/tickets"): R(
        "create",
        lambda c: Call("/tickets", json={"contact_id": c.records.contact, "channel": "email", "subject": "Help"}),
    ),
    ("GET", "/tickets/{ticket_id}"): R("record", lambda c: Call(f"/tickets/{c.records.ticket}")),
    ("PATCH", "/tickets/{ticket_id}"): R(
        "record", lambda c: Call(f"/tickets/{c.records.ticket}", json={"priority": "high"})
    ),
    ("GET", "/segments"): R("open", lambda c: Call("/segments")),
    ("POST", "/segments"): R(
        "open", lambda c: Call("/segments", json={"name": unique("S"), "lifecycle_stages": ["lead"]})
    ),
    ("GET", "/segments/{segment_id}/members"): R(
        "list", lambda c: Call(f"/segments/{c.segment}/members", params=NEWEST)
    ),
    ("GET", "/products"): R("list", lambda c: Call("/products", params=NEWEST), target_id=lambda c: c.product),
    ("POST", "/products"): R(
        "open",
        lambda c: Call(
            "/products", json={"sku": unique("SKU-"), "name": "P", "category": "tools", "unit_price": "1.00"}
        ),
    ),
    ("GET", "/products/{product_id}"): R("record", lambda c: Call(f"/products/{c.product}")),
    ("PATCH", "/products/{product_id}"): R("record", lambda c: Call(f"/products/{c.product}", json={"name": "Q"})),
    ("GET", "/orders"): R("list", lambda c: Call("/orders", params=NEWEST), target_id=lambda c: c.records.order),
    ("POST", "/orders"): R(
        "create",
        lambda c: Call(
            "/orders", json={"contact_id": c.records.contact, "lines": [{"product_id": c.product, "quantity": 1}]}
        ),
    ),
    ("GET", "/orders/{order_id}"): R("record", lambda c: Call(f"/orders/{c.records.order}")),
    ("PATCH", "/orders/{order_id}"): R(
        "record", lambda c: Call(f"/orders/{c.records.order}", json={"status": "completed"})
    ),
    ("POST", "/imports/contacts"): R(
        "open",
        lambda c: Call(
            "/imports/contacts",
            files={"file": ("people.csv", f"first_name,last_name\nImp,{unique('x')}\n".encode(), "text/csv")},
        ),
    ),
    ("POST", "/imports/accounts"): R(
        "open",
        lambda c: Call("/imports/accounts", files={"file": ("a.csv", f"name\n{unique('acc')}\n".encode(), "text/csv")}),
    ),
    ("POST", "/imports/products"): R(
        "open",
        lambda c: Call(
            "/imports/products",
            files={"file": ("p.csv", f"sku,name,unit_price\n{unique('sku')},Tea,2.50\n".encode(), "text/csv")},
        ),
    ),
    ("POST", "/imports/activities"): R(
        "open",
        lambda c: Call(
            "/imports/activities",
            files={
                "file": (
                    "e.csv",
                    f"contact_email,type,channel,occurred_at\n{c.records.email},call,phone,2025-01-01\n".encode(),
                    "text/csv",
                )
            },
        ),
    ),
    ("POST", "/imports/orders"): R(
        "open",
        lambda c: Call(
            "/imports/orders",
            files={
                "file": (
                    "o.csv",
                    f"contact_email,ordered_at,total\n{c.records.email},2025-01-01,5\n".encode(),
                    "text/csv",
                )
            },
        ),
    ),
    ("POST", "/imports/deals"): R(
        "open",
        lambda c: Call("/imports/deals", files={"file": ("d.csv", f"name\n{unique('deal')}\n".encode(), "text/csv")}),
    ),
    ("POST", "/imports/deal_stages"): R(
        "open",
        lambda c: Call(
            "/imports/deal_stages",
            files={"file": ("s.csv", b"deal,stage,changed_at\nnone-such,proposal,2025-01-01\n", "text/csv")},
        ),
    ),
    ("POST", "/imports/tickets"): R(
        "open",
        lambda c: Call(
            "/imports/tickets",
            files={
                "file": (
                    "t.csv",
                    f"contact_email,channel,subject\n{c.records.email},email,Imported\n".encode(),
                    "text/csv",
                )
            },
        ),
    ),
    ("POST", "/imports/contact_changes"): R(
        "open",
        lambda c: Call(
            "/imports/contact_changes",
            files={
                "file": (
                    "h.csv",
                    f"contact_email,field,value,changed_at\n{c.records.email},lifecycle_stage,customer,2025-01-01\n".encode(),
                    "text/csv",
                )
            },
        ),
    ),
    ("POST", "/imports/consents"): R(
        "open",
        lambda c: Call(
            "/imports/consents",
            files={
                "file": (
                    "c.csv",
                    f"contact_email,channel,status,recorded_at\n{c.records.email},sms,granted,2025-01-01\n".encode(),
                    "text/csv",
                )
            },
        ),
    ),
    ("GET", "/exports/contacts"): R(
        "list", lambda c: Call("/exports/contacts", params={"consent": "email"}), listed=ids_of_csv
    ),
    ("GET", "/custom-fields"): R("open", lambda c: Call("/custom-fields", params={"entity": "contact"})),
    ("POST", "/custom-fields"): R(
        "open",
        lambda c: Call("/custom-fields", json={"entity": "account", "name": unique("f"), "label": "F", "type": "text"}),
    ),
    ("GET", "/users"): R("list", lambda c: Call("/users"), target_id=lambda c: c.records.owner_id, listed=ids_of_list),
    ("POST", "/users"): R(
        "open",
        lambda c: Call("/users", json={"email": f"{unique('u')}@example.com", "full_name": "U", "role": "sales_rep"}),
    ),
    ("PATCH", "/users/{user_id}"): R("record", lambda c: Call(f"/users/{c.records.owner_id}", json={"full_name": "R"})),
    ("POST", "/tokens"): R(
        "open",
        lambda c: Call("/tokens", json={"name": "integration", "scopes": ["*"], "expires_at": str(TOMORROW)}),
    ),
    ("GET", "/tokens"): R("open", lambda c: Call("/tokens")),
    ("GET", "/jobs"): R(
        "list", lambda c: Call("/jobs", params={"limit": 100}), target_id=lambda c: c.records.job, listed=ids_of_list
    ),
    ("GET", "/jobs/{job_id}"): R("record", lambda c: Call(f"/jobs/{c.records.job}"), target_id=lambda c: c.records.job),
    ("DELETE", "/tokens/{token_id}"): R("record", lambda c: Call(f"/tokens/{c.records.token}")),
}


def test_every_operation_declares_a_known_policy_and_has_a_recipe() -> None:
    documented = operations()
    assert len(documented) > 40, "the routes are read from the OpenAPI document, not a lazy router list"
    public = {key for key, declared in documented.items() if declared == "public"}
    assert public == {("POST", "/auth/login"), ("GET", "/auth/me")}, "only signing in is open"
    for key, declared in documented.items():
        if declared != "public":
            entity, _, action = declared.partition(":")
            assert entity in POLICY and Action(action) in POLICY[entity], f"{key}: {declared} is not in the policy"
    assert set(RECIPES) == set(documented) - public, "every operation has a matrix recipe"


def expected(role: Role, declared: str, recipe: Recipe, target: str) -> str:
    entity, _, action = declared.partition(":")
    scope = scope_of(role, entity, Action(action))
    if scope is Scope.NONE:
        return "forbidden"
    if recipe.shape == "open" or entity in CATALOGUES:
        return "allowed"
    reach = {Scope.ALL: TARGETS, Scope.TEAM: ("own", "team"), Scope.OWN: ("own",)}[scope]
    return "allowed" if target in reach else "out of reach"


def database_content(engine: Engine) -> list[tuple[str, list[tuple[Any, ...]]]]:
    with engine.connect() as connection:
        return [
            (table.name, [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key))])
            for table in Base.metadata.sorted_tables
        ]


@dataclass
class Fixtures:
    world: World
    owners: dict[tuple[Role, str], int] = field(default_factory=dict)
    product: int = 0
    segment: int = 0

    def records(self, owner_id: int) -> Records:
        session_factory = make_session_factory(self.world.engine)
        with UnitOfWork(session_factory) as uow:
            session = uow.session
            account = Account(name="Acct", owner_id=owner_id, created_at=NOW)
            session.add(account)
            session.flush()
            email = f"{unique('p')}@example.com"
            contact = Contact(
                first_name="T",
                last_name="Target",
                email=email,
                lifecycle_stage="lead",
                owner_id=owner_id,
                account_id=account.id,
                created_at=NOW,
            )
            session.add(contact)
            session.flush()
            session.add(Consent(contact_id=contact.id, channel="email", status="granted", source="t", recorded_at=NOW))
            deal = Deal(
                name="Deal",
                amount=Decimal(5),
                stage="prospecting",
                status="open",
                owner_id=owner_id,
                contact_id=contact.id,
                account_id=account.id,
                opened_at=NOW,
            )
            ticket = Ticket(
                contact_id=contact.id, channel="email", priority="low", status="open", subject="s", opened_at=NOW
            )
            order = Order(contact_id=contact.id, ordered_at=NOW, status="placed", total=Decimal(1))
            session.add_all([deal, ticket, order])
            session.flush()
            session.add(DealStageChange(deal_id=deal.id, from_stage=None, to_stage="prospecting", changed_at=NOW))
            session.add(OrderLine(order_id=order.id, product_id=self.product, quantity=1, unit_price=Decimal(1)))
            session.add(SegmentMember(segment_id=self.segment, contact_id=contact.id))
            owner = session.get_one(User, owner_id)
            principal = Principal(user_id=owner.id, role=owner.role, team_id=owner.team_id)
            token = create_integration_token(
                uow, principal, CoreSettings(), name="t", scopes=["*"], now=NOW, expires_at=NOW + timedelta(days=1)
            )
            job = Job(
                kind="import_contacts",
                status="succeeded",
                requested_by_id=owner_id,
                parameters={},
                created_at=NOW,
                progress_done=0,
                message="done",
            )
            session.add(job)
            uow.commit()
            return Records(
                owner_id, account.id, contact.id, email, deal.id, ticket.id, order.id, token.token_id, job.id
            )


def test_every_operation_for_every_role_and_record_follows_the_policy(world: World) -> None:
    with world.engine.connect() as connection:
        teammate = connection.execute(select(User.id).where(User.email == "mate@x.test")).scalar_one()
    fixtures = Fixtures(world)
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        product = Product(sku="MATRIX-1", name="Matrix", category="tools", unit_price=Decimal(1))
        segment = Segment(key="matrix", name="Matrix", kind="cluster", description="", definition={}, created_at=NOW)
        uow.session.add_all([product, segment])
        uow.commit()
        fixtures.product, fixtures.segment = product.id, segment.id
    documented = operations()
    failures: list[str] = []
    checked = 0
    for (method, path), recipe in RECIPES.items():
        declared = documented[(method, path)]
        for role, target in itertools.product(Role, TARGETS):
            owner = {"own": world.users[role], "team": teammate, "other": world.stranger_id}[target]
            case = Case(role, target, fixtures.records(owner), fixtures.product, fixtures.segment)
            call = recipe.call(case)
            outcome = expected(role, declared, recipe, target)
            refusal = outcome == "forbidden" or (outcome == "out of reach" and recipe.shape != "list")
            before = database_content(world.engine) if refusal else None
            response = world.client.request(
                method, call.path, json=call.json, params=call.params, files=call.files, headers=world.headers(role)
            )
            checked += 1
            problem = _judge(recipe, case, outcome, response)
            if problem is None and refusal and before != database_content(world.engine):
                problem = "refused, yet the database changed"
            if problem:
                failures.append(f"{method} {path} as {role.value} on {target}'s record ({outcome}): {problem}")
    assert failures == [], "\n".join(failures)
    assert checked == len(RECIPES) * len(Role) * len(TARGETS)


def _judge(recipe: Recipe, case: Case, outcome: str, response: httpx.Response) -> str | None:
    status = response.status_code
    if outcome == "forbidden":
        return None if status == 403 else f"expected 403, got {status}: {response.text[:200]}"
    if recipe.shape == "list":
        if status != 200:
            return f"expected 200, got {status}: {response.text[:200]}"
        listed = recipe.target_id(case) in recipe.listed(response)
        return None if listed is (outcome == "allowed") else f"target listed: {listed}"
    if outcome == "allowed":
        ok = 200 <= status < 300 and not (recipe.shape == "create" and recipe.refused(response))
        return None if ok else f"expected success, got {status}: {response.text[:200]}"
    if recipe.shape == "record":
        return None if status == 404 else f"expected 404, got {status}: {response.text[:200]}"
    return None if recipe.refused(response) else f"expected a refusal, got {status}: {response.text[:200]}"
