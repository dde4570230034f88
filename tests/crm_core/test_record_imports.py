"""Bulk import of accounts, products, activities and orders (with lines) through the one record
pipeline: bad rows named with their cell, good rows kept, references by external id or email,
orders whole or not at all, and a re-import that adds and changes nothing."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import (
    Account,
    Activity,
    Consent,
    Contact,
    Deal,
    DealStageChange,
    Order,
    OrderLine,
    Product,
    Ticket,
    User,
)
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import ImportMapping, import_records
from crm_core.imports.record_kinds import (
    ACCOUNTS,
    ACTIVITIES,
    CONSENTS,
    DEAL_STAGES,
    DEALS,
    ORDERS,
    PRODUCTS,
    TICKETS,
)
from crm_core.imports.typed_columns import ColumnOptions
from crm_core.schemas.imports import ImportReport
from crm_core.unit_of_work import UnitOfWork
from tests.conftest import DataHome
from tests.crm_core.conftest import build_world

OPERATOR = Principal.system(Role.ADMIN, "record import tests")
NOW = datetime(2026, 6, 1)


def _import(engine: Engine, kind: object, frame: pl.DataFrame, mapping: ImportMapping | None = None) -> ImportReport:
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_records(uow, OPERATOR, kind, frame, mapping=mapping, source="test.csv", now=NOW)  # type: ignore[arg-type]
        uow.commit()
    return report


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def _text(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A file as the reader gives it: every cell text, empty cells null."""
    return pl.DataFrame(rows).with_columns(pl.all().cast(pl.String))


@pytest.fixture
def customers(engine: Engine) -> dict[str, int]:
    with UnitOfWork(make_session_factory(engine)) as uow:
        people = [
            Contact(
                first_name="C", last_name=str(n), external_id=f"CUST-{n}", lifecycle_stage="customer", created_at=NOW
            )
            for n in range(1, 6)
        ]
        people.append(
            Contact(first_name="E", last_name="Mail", email="eva@example.com", lifecycle_stage="lead", created_at=NOW)
        )
        uow.session.add_all(people)
        uow.session.add_all(
            [
                Product(sku="TEA", external_id="P-TEA", name="Tea", category="food", unit_price=Decimal("2.50")),
                Product(sku="CUP", external_id="P-CUP", name="Cup", category="home", unit_price=Decimal("8.00")),
            ]
        )
        uow.commit()
        return {person.external_id or person.email or "": person.id for person in people}


def test_orders_given_as_lines_load_whole_with_their_own_prices_and_amounts(
    engine: Engine, customers: dict[str, int]
) -> None:
    lines = _text(
        [
            # order A: two lines, catalogue price for one, the file's own price and a weight for the other
            {
                "Invoice": "A",
                "Customer": "CUST-1",
                "Date": "2025-03-01 10:00",
                "SKU": "TEA",
                "Qty": "2",
                "Price": None,
                "Amount": None,
            },
            {
                "Invoice": "A",
                "Customer": "CUST-1",
                "Date": "2025-03-01 10:00",
                "SKU": "CUP",
                "Qty": "1.5",
                "Price": "7.00",
                "Amount": None,
            },
            # order B: its own amount (a discount) wins over its lines
            {
                "Invoice": "B",
                "Customer": "CUST-2",
                "Date": "2025-03-02",
                "SKU": "TEA",
                "Qty": "4",
                "Price": None,
                "Amount": "9.00",
            },
            # order C: one bad line (unknown product) refuses the whole order
            {
                "Invoice": "C",
                "Customer": "CUST-3",
                "Date": "2025-03-03",
                "SKU": "TEA",
                "Qty": "1",
                "Price": None,
                "Amount": None,
            },
            {
                "Invoice": "C",
                "Customer": "CUST-3",
                "Date": "2025-03-03",
                "SKU": "NOPE",
                "Qty": "1",
                "Price": None,
                "Amount": None,
            },
            # order D: an amount and no products (a purchase history without baskets)
            {
                "Invoice": "D",
                "Customer": "CUST-4",
                "Date": "2025-03-04",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "120.50",
            },
            # bad rows of other kinds
            {
                "Invoice": "E",
                "Customer": "CUST-404",
                "Date": "2025-03-05",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "5",
            },
            {
                "Invoice": "F",
                "Customer": "CUST-5",
                "Date": "03/05/2025",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "5",
            },
            {
                "Invoice": "G",
                "Customer": "CUST-5",
                "Date": "2025-03-06",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "ten",
            },
            {
                "Invoice": "H",
                "Customer": "CUST-5",
                "Date": "2030-01-01",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "5",
            },
            {
                "Invoice": "I",
                "Customer": "CUST-5",
                "Date": "2025-03-07",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": None,
            },
            {
                "Invoice": "J",
                "Customer": None,
                "Date": "2025-03-08",
                "SKU": None,
                "Qty": None,
                "Price": None,
                "Amount": "5",
            },
        ]
    )
    mapping = ImportMapping(
        columns={
            "external_id": "Invoice",
            "contact": "Customer",
            "ordered_at": "Date",
            "sku": "SKU",
            "quantity": "Qty",
            "unit_price": "Price",
            "total": "Amount",
        }
    )
    report = _import(engine, ORDERS, lines, mapping)

    assert (report.inserted, report.details) == (3, {"order_lines": 3})
    problems = {(problem.row, problem.field): problem for problem in report.rejected}
    assert problems[(5, "sku")].value == "NOPE" and "no product with SKU 'NOPE'" in problems[(5, "sku")].reason
    assert "another line of this order was refused (row 5)" in problems[(4, "external_id")].reason
    assert problems[(7, "contact")].value == "CUST-404"
    assert problems[(8, "ordered_at")].value == "03/05/2025"
    assert problems[(9, "total")].value == "ten"
    assert problems[(10, "ordered_at")].reason == "is in the future"
    assert problems[(11, "total")].reason == "the order has no amount and no lines to sum"
    assert problems[(12, "contact")].reason == "needs contact or contact_email"
    assert {row for row, _ in problems} == set(range(4, 13)) - {6}

    with engine.connect() as connection:
        totals = dict(connection.execute(select(Order.external_id, Order.total)).tuples().all())
        assert {key: Decimal(str(value)) for key, value in totals.items()} == {
            "A": Decimal("15.50"),  # 2 x 2.50 + 1.5 x 7.00
            "B": Decimal("9.00"),
            "D": Decimal("120.50"),
        }
        quantities = connection.execute(select(OrderLine.quantity).order_by(OrderLine.id)).scalars().all()
        assert [float(q) for q in quantities] == [2.0, 1.5, 4.0]
        contact_of_d = connection.execute(select(Order.contact_id).where(Order.external_id == "D")).scalar_one()
        assert contact_of_d == customers["CUST-4"]

    again = _import(engine, ORDERS, lines, mapping)
    assert (again.inserted, again.unchanged) == (0, 3), "a re-import adds nothing and changes nothing"
    assert (_count(engine, Order), _count(engine, OrderLine)) == (3, 3)


def test_a_mapping_missing_required_fields_names_them_all_at_once(engine: Engine) -> None:
    frame = _text([{"when": "2025-01-01", "what": "x"}])
    with pytest.raises(ValidationFailedError) as refused:
        _import(engine, ORDERS, frame)
    assert "ordered_at" in refused.value.reason and "contact or contact_email" in refused.value.reason
    assert "'when'" in refused.value.reason, "the file's columns are listed"


def test_products_accounts_and_activities_load_once_each(engine: Engine, customers: dict[str, int]) -> None:
    products = _text(
        [
            {"id": "P-1", "sku": "MUG", "name": "Mug", "category": None, "price": "4,50"},
            {"id": "P-1", "sku": "MUG", "name": "Mug again", "category": None, "price": "4,50"},  # folded
            {"id": "P-2", "sku": "has space", "name": "Bad", "category": "x", "price": "1"},
            {"id": "P-3", "sku": "TEA", "name": "Tea", "category": "food", "price": "2,50"},  # TEA is stored
        ]
    )
    report = _import(
        engine,
        PRODUCTS,
        products,
        ImportMapping({"external_id": "id", "unit_price": "price"}, {"unit_price": ColumnOptions(decimal_comma=True)}),
    )
    assert (report.inserted, report.duplicates_in_file, report.unchanged) == (1, 1, 1)
    assert [(p.row, p.field) for p in report.rejected] == [(3, "sku")]
    with engine.connect() as connection:
        mug = connection.execute(select(Product.unit_price, Product.category).where(Product.sku == "MUG")).one()
    assert (Decimal(str(mug[0])), mug[1]) == (Decimal("4.50"), "uncategorised")

    by_sku_only = _text([{"sku": "JUG", "name": "Jug", "unit_price": "3"}])
    assert _import(engine, PRODUCTS, by_sku_only).inserted == 1, "a product without an external id loads by its SKU"
    assert _import(engine, PRODUCTS, by_sku_only).unchanged == 1

    accounts = _text([{"Company": "Acme", "Ref": "A-1"}, {"Company": None, "Ref": "A-2"}])
    report = _import(engine, ACCOUNTS, accounts, ImportMapping({"name": "Company", "external_id": "Ref"}))
    assert report.inserted == 1 and [(p.row, p.field) for p in report.rejected] == [(2, "name")]
    assert _import(engine, ACCOUNTS, accounts, ImportMapping({"name": "Company", "external_id": "Ref"})).unchanged == 1
    assert _count(engine, Account) == 1

    events = _text(
        [
            {
                "who": "CUST-1",
                "email": None,
                "type": "call",
                "channel": "Phone",
                "at": "2025-02-01T09:00:00Z",
                "ref": "EV-1",
            },
            {
                "who": None,
                "email": "EVA@example.com",
                "type": "email_open",
                "channel": "email",
                "at": "2025-02-02",
                "ref": "EV-2",
            },
            {"who": "CUST-1", "email": None, "type": "call", "channel": "pigeon", "at": "2025-02-03", "ref": "EV-3"},
        ]
    )
    mapping = ImportMapping({"contact": "who", "contact_email": "email", "occurred_at": "at", "external_id": "ref"})
    report = _import(engine, ACTIVITIES, events, mapping)
    assert report.inserted == 2
    assert [(p.row, p.field, p.value) for p in report.rejected] == [(3, "channel", "pigeon")]
    with engine.connect() as connection:
        owners = connection.execute(select(Activity.contact_id).order_by(Activity.occurred_at)).scalars().all()
    assert owners == [customers["CUST-1"], customers["eva@example.com"]]
    assert _import(engine, ACTIVITIES, events, mapping).inserted == 0
    assert _count(engine, Activity) == 2


def test_a_rep_cannot_attach_records_to_another_teams_customer(engine: Engine) -> None:
    """A reference out of reach answers exactly like one that does not exist."""
    world = build_world(engine)
    with UnitOfWork(make_session_factory(engine)) as uow:
        theirs = uow.session.get_one(Contact, world.contacts[(Role.SALES_REP, "other")])
        theirs.external_id = "THEIRS"
        rep = uow.session.get_one(User, world.users[Role.SALES_REP])
        principal = Principal(user_id=rep.id, role=rep.role, team_id=rep.team_id)
        uow.commit()
    frame = _text(
        [
            {"contact": "THEIRS", "ordered_at": "2025-01-01", "total": "5"},
            {"contact": "NOBODY", "ordered_at": "2025-01-01", "total": "5"},
        ]
    )
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_records(uow, principal, ORDERS, frame, source="x.csv", now=NOW)
        uow.commit()
    assert report.inserted == 0
    reasons = [problem.reason.replace("'THEIRS'", "X").replace("'NOBODY'", "X") for problem in report.rejected]
    assert len(reasons) == 2 and reasons[0] == reasons[1]


def test_many_rows_keep_their_numbers(engine: Engine, customers: dict[str, int]) -> None:
    rng = random.Random(5)
    rows = [
        {
            "Invoice": f"N-{n}",
            "Customer": f"CUST-{rng.randint(1, 5)}",
            "Date": "2025-01-02",
            "Amount": f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
        }
        for n in range(5_000)
    ]
    bad = set(rng.sample(range(5_000), 50))
    for index in bad:
        rows[index]["Amount"] = "-3"
    mapping = ImportMapping({"external_id": "Invoice", "contact": "Customer", "ordered_at": "Date", "total": "Amount"})
    report = _import(engine, ORDERS, _text(rows), mapping)
    assert report.inserted == 5_000 - 50
    assert {problem.row for problem in report.rejected} == {index + 1 for index in bad}
    assert all(problem.reason == "is below 0" for problem in report.rejected)


CUSTOMERS_MAPPING_FILE = """
kind = "contacts"

[columns]
external_id = "Kundennr"
first_name = "Vorname"
last_name = "Nachname"
created_at = "Seit"
lifecycle_stage = "Status"

[fields.created_at]
date_format = "%d.%m.%Y"

[fields.lifecycle_stage.values]
Kunde = "customer"
Interessent = "lead"
"""

MAPPING_FILE = """
kind = "orders"

[columns]
external_id = "InvoiceNo"
contact = "CustomerID"
ordered_at = "InvoiceDate"
total = "Amount"
status = "State"

[fields.ordered_at]
date_format = "%d.%m.%Y %H:%M"

[fields.total]
decimal_comma = true

[fields.status.values]
Storniert = "cancelled"
Bezahlt = "completed"
"""


def test_the_cli_imports_a_company_history_by_mapping_file(tmp_path: Path) -> None:
    """Customers by their own id, then their orders in the file's own date and number forms:
    the mapping file says how, no Python is written; refused rows exit 3 and are in the
    problems file with their cells; a second run adds nothing."""
    home = DataHome(tmp_path / "home")
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "Kundennr,Vorname,Nachname,Seit,Status\nK-1,Ada,Lind,03.02.2024,Kunde\nK-2,Bo,Ek,,Interessent\n"
    )
    customer_mapping = tmp_path / "customers.toml"
    customer_mapping.write_text(CUSTOMERS_MAPPING_FILE)
    loaded = home.cli("import", "contacts", str(customers), "--mapping", str(customer_mapping), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "InvoiceNo,CustomerID,InvoiceDate,Amount,State\n"
        '1001,K-1,03.02.2025 14:30,"1.234,50",Bezahlt\n'
        '1002,K-2,04.02.2025 09:00,"12,00",Storniert\n'
        '1003,K-9,05.02.2025 09:00,"5,00",Bezahlt\n'
        '1004,K-1,2025-02-06,"5,00",Bezahlt\n'
    )
    mapping = tmp_path / "orders.toml"
    mapping.write_text(MAPPING_FILE)

    first = home.cli("import", "orders", str(orders), "--mapping", str(mapping), cwd=tmp_path)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "new orders" in first.stdout
    problems_file = next((home.path / "imports").glob("orders-*-problems.csv"))
    problems = pl.read_csv(problems_file, infer_schema=False)
    assert problems.select("row", "field", "value").rows() == [
        ("3", "contact", "K-9"),
        ("4", "ordered_at", "2025-02-06"),
    ]
    assert problems["InvoiceNo"].to_list() == ["1003", "1004"], "the row's own cells ride along"

    engine = make_engine(home.database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(Order.external_id, Order.total, Order.status, Order.ordered_at).order_by(Order.external_id)
            ).all()
        assert [(row[0], Decimal(str(row[1])), row[2], row[3]) for row in stored] == [
            ("1001", Decimal("1234.50"), "completed", datetime(2025, 2, 3, 14, 30)),
            ("1002", Decimal("12.00"), "cancelled", datetime(2025, 2, 4, 9, 0)),
        ]
        with engine.connect() as connection:
            people = connection.execute(
                select(Contact.external_id, Contact.lifecycle_stage, Contact.created_at).order_by(Contact.external_id)
            ).all()
        assert tuple(people[0]) == ("K-1", "customer", datetime(2024, 2, 3)), "the file's own date form and word"
        assert tuple(people[1])[:2] == ("K-2", "lead")
    finally:
        engine.dispose()

    again = home.cli("import", "orders", str(orders), "--mapping", str(mapping), cwd=tmp_path)
    assert again.returncode == 3
    assert "already present, unchanged" in again.stdout and "new orders" in again.stdout

    wrong_kind = home.cli("import", "products", str(orders), "--mapping", str(mapping), cwd=tmp_path)
    assert wrong_kind.returncode != 0 and "maps orders, not products" in wrong_kind.stdout + wrong_kind.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[columns\nexternal_id = "x"\n')
    refused = home.cli("import", "orders", str(orders), "--mapping", str(broken), cwd=tmp_path)
    assert refused.returncode != 0 and "not valid TOML" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr


def test_deals_and_their_stage_history_come_in_under_the_pipelines_rules(
    engine: Engine, customers: dict[str, int]
) -> None:
    deals = _text(
        [
            {
                "id": "D-1",
                "name": "Open one",
                "stage": "Proposal",
                "customer": "CUST-1",
                "opened": "2025-01-10",
                "closed": None,
                "value": "1000",
            },
            {
                "id": "D-2",
                "name": "Won one",
                "stage": "Won",
                "customer": "CUST-2",
                "opened": "2025-01-05",
                "closed": "2025-03-01",
                "value": "500",
            },
            {
                "id": "D-3",
                "name": "No close date",
                "stage": "Won",
                "customer": None,
                "opened": "2025-01-05",
                "closed": None,
                "value": "1",
            },
            {
                "id": "D-4",
                "name": "Open but closed",
                "stage": "proposal",
                "customer": None,
                "opened": "2025-01-05",
                "closed": "2025-02-01",
                "value": "1",
            },
            {
                "id": "D-5",
                "name": "Backwards",
                "stage": "Lost",
                "customer": None,
                "opened": "2025-03-05",
                "closed": "2025-02-01",
                "value": "1",
            },
            {
                "id": "D-6",
                "name": "To be moved",
                "stage": None,
                "customer": "CUST-3",
                "opened": "2025-01-01",
                "closed": None,
                "value": None,
            },
        ]
    )
    mapping = ImportMapping(
        {"external_id": "id", "contact": "customer", "opened_at": "opened", "closed_at": "closed", "amount": "value"},
        {"stage": ColumnOptions(values={"Won": "closed_won", "Lost": "closed_lost"})},
    )
    report = _import(engine, DEALS, deals, mapping)
    assert (report.inserted, report.details) == (3, {"stage_history_rows": 3})
    assert [(p.row, p.field, p.reason) for p in report.rejected] == [
        (3, "closed_at", "a closed deal needs the date it closed"),
        (4, "closed_at", "an open deal has no close date"),
        (5, "closed_at", "is before the deal opened"),
    ]
    with engine.connect() as connection:
        won = connection.execute(
            select(Deal.status, Deal.closed_at, Deal.contact_id).where(Deal.external_id == "D-2")
        ).one()
    assert tuple(won) == ("won", datetime(2025, 3, 1), customers["CUST-2"])

    moves = _text(
        [
            {"deal": "D-6", "stage": "qualification", "at": "2025-02-01"},
            {"deal": "D-6", "stage": "closed_won", "at": "2025-04-01"},
            {"deal": "D-6", "stage": "proposal", "at": "2025-03-01"},  # in time order, before the win
            {"deal": "D-1", "stage": "negotiation", "at": "2024-12-01"},  # before the deal's opening
            {"deal": "D-1", "stage": "closed_lost", "at": "2025-05-01"},  # after a refused move
            {"deal": "D-2", "stage": "proposal", "at": "2025-04-01"},  # a closed deal
            {"deal": "D-404", "stage": "proposal", "at": "2025-04-01"},
        ]
    )
    moves_mapping = ImportMapping({"changed_at": "at"})
    report = _import(engine, DEAL_STAGES, moves, moves_mapping)
    assert report.inserted == 3
    assert [(p.row, p.field) for p in report.rejected] == [(4, "changed_at"), (5, "stage"), (6, "stage"), (7, "deal")]
    reasons = {p.row: p.reason for p in report.rejected}
    assert reasons[5] == "an earlier move of this deal was refused (row 4)"
    assert "closed deals do not change stage" in reasons[6]
    with engine.connect() as connection:
        moved = connection.execute(
            select(Deal.stage, Deal.status, Deal.closed_at).where(Deal.external_id == "D-6")
        ).one()
        path = connection.execute(
            select(DealStageChange.from_stage, DealStageChange.to_stage)
            .join(Deal, Deal.id == DealStageChange.deal_id)
            .where(Deal.external_id == "D-6")
            .order_by(DealStageChange.changed_at)
        ).all()
    assert tuple(moved) == ("closed_won", "won", datetime(2025, 4, 1))
    assert [tuple(step) for step in path] == [
        (None, "prospecting"),
        ("prospecting", "qualification"),
        ("qualification", "proposal"),
        ("proposal", "closed_won"),
    ]
    again = _import(engine, DEAL_STAGES, moves, moves_mapping)
    assert (again.inserted, again.unchanged) == (0, 3), "moves already in the history are left alone"
    assert _import(engine, DEALS, deals, mapping).unchanged == 3

    undated = _text([{"id": "W-1", "name": "Won, no opening", "stage": "Won", "closed": "2025-03-09"}])
    _import(engine, DEALS, undated, ImportMapping({"external_id": "id", "closed_at": "closed"}, mapping.options))
    with engine.connect() as connection:
        dates = connection.execute(select(Deal.opened_at, Deal.closed_at).where(Deal.external_id == "W-1")).one()
    assert tuple(dates) == (datetime(2025, 3, 9), datetime(2025, 3, 9)), "opened when it closed, never on import"


def test_tickets_keep_their_dates_status_and_rating(engine: Engine, customers: dict[str, int]) -> None:
    tickets = _text(
        [
            {
                "ref": "T-1",
                "who": "CUST-1",
                "channel": "email",
                "subject": "Late",
                "opened": "2025-01-01",
                "resolved": "2025-01-03",
                "csat": "4",
                "status": None,
            },
            {
                "ref": "T-2",
                "who": "CUST-1",
                "channel": "chat",
                "subject": "Still open",
                "opened": "2025-02-01",
                "resolved": None,
                "csat": None,
                "status": None,
            },
            {
                "ref": "T-3",
                "who": "CUST-2",
                "channel": "email",
                "subject": "Rated open",
                "opened": "2025-02-01",
                "resolved": None,
                "csat": "5",
                "status": None,
            },
            {
                "ref": "T-4",
                "who": "CUST-2",
                "channel": "email",
                "subject": "Closed, no date",
                "opened": "2025-02-01",
                "resolved": None,
                "csat": None,
                "status": "closed",
            },
            {
                "ref": "T-5",
                "who": "CUST-2",
                "channel": "email",
                "subject": "Bad rating",
                "opened": "2025-02-01",
                "resolved": "2025-02-02",
                "csat": "9",
                "status": None,
            },
            {
                "ref": "T-6",
                "who": "CUST-2",
                "channel": "email",
                "subject": "Time travel",
                "opened": "2025-02-05",
                "resolved": "2025-02-02",
                "csat": None,
                "status": None,
            },
        ]
    )
    mapping = ImportMapping(
        {
            "external_id": "ref",
            "contact": "who",
            "opened_at": "opened",
            "resolved_at": "resolved",
            "satisfaction": "csat",
        }
    )
    report = _import(engine, TICKETS, tickets, mapping)
    assert report.inserted == 2
    assert [(p.row, p.field) for p in report.rejected] == [
        (3, "satisfaction"),
        (4, "resolved_at"),
        (5, "satisfaction"),
        (6, "resolved_at"),
    ]
    with engine.connect() as connection:
        stored = connection.execute(
            select(Ticket.external_id, Ticket.status, Ticket.priority, Ticket.satisfaction).order_by(Ticket.external_id)
        ).all()
    assert [tuple(row) for row in stored] == [("T-1", "resolved", "normal", 4), ("T-2", "open", "normal", None)]


def test_consent_decisions_join_the_history_once(engine: Engine, customers: dict[str, int]) -> None:
    decisions = _text(
        [
            {"who": "CUST-1", "channel": "email", "opt_in": "yes", "when": "2025-01-01", "where": "web form"},
            {"who": "CUST-1", "channel": "email", "opt_in": "no", "when": "2025-06-01", "where": None},
            {"who": "CUST-1", "channel": "email", "opt_in": "no", "when": "2025-06-01", "where": None},  # folded
            {"who": "CUST-2", "channel": "sms", "opt_in": "maybe", "when": "2025-01-01", "where": None},
        ]
    )
    mapping = ImportMapping(
        {"contact": "who", "status": "opt_in", "recorded_at": "when", "source": "where"},
        {"status": ColumnOptions(values={"yes": "granted", "no": "withdrawn"})},
    )
    report = _import(engine, CONSENTS, decisions, mapping)
    assert (report.inserted, report.duplicates_in_file) == (2, 1)
    assert [(p.row, p.field, p.value) for p in report.rejected] == [(4, "status", "maybe")]
    with engine.connect() as connection:
        history = connection.execute(
            select(Consent.status, Consent.source)
            .where(Consent.contact_id == customers["CUST-1"])
            .order_by(Consent.recorded_at)
        ).all()
    assert [tuple(row) for row in history] == [("granted", "web form"), ("withdrawn", "import")]
    assert _import(engine, CONSENTS, decisions, mapping).unchanged == 2


LEAD_LIST_MAPPING = """
kind = "contacts"

[columns]
external_id = "Lead Number"

[custom_fields.converted]
column = "Converted"
type = "boolean"

[custom_fields.lead_source]
column = "Lead Source"
type = "choice"
choices = ["Google", "Referral", "Olark Chat"]
"""


def test_a_mapping_file_brings_its_own_custom_fields_defined_once_and_checked_after(engine: Engine) -> None:
    """A lead list's own columns become custom fields by the mapping alone; a second file that
    declares them otherwise is refused naming the field, and a kind without custom fields too."""
    from crm_core.errors import ForbiddenError
    from crm_core.imports.contacts import import_contacts
    from crm_core.imports.mapping_files import parse_mapping
    from crm_core.services.custom_fields import definitions_of

    leads = _text(
        [
            {"Lead Number": "L-1", "Converted": "1", "Lead Source": "Google"},
            {"Lead Number": "L-2", "Converted": "0", "Lead Source": "Referral"},
            {"Lead Number": "L-3", "Converted": "maybe", "Lead Source": "Google"},
        ]
    )
    mapping = parse_mapping(LEAD_LIST_MAPPING, "leads.toml").mapping()
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_contacts(uow, OPERATOR, leads, mapping=mapping, source="leads.csv", now=NOW)
        uow.commit()
    assert report.inserted == 2 and [(p.row, p.field) for p in report.rejected] == [(3, "custom.converted")]
    with UnitOfWork(make_session_factory(engine)) as uow:
        defined = definitions_of(uow, "contact")
        assert (defined["converted"].type, defined["lead_source"].choices) == (
            "boolean",
            ["Google", "Referral", "Olark Chat"],
        )
        stored = dict(uow.session.execute(select(Contact.external_id, Contact.custom)).tuples().all())
    assert stored == {
        "L-1": {"converted": True, "lead_source": "Google"},
        "L-2": {"converted": False, "lead_source": "Referral"},
    }

    with UnitOfWork(make_session_factory(engine)) as uow:
        again = import_contacts(uow, OPERATOR, leads, mapping=mapping, source="leads.csv", now=NOW)
        uow.commit()
    assert again.inserted == 0, "declaring a field the CRM holds as declared changes nothing"
    retyped = parse_mapping(LEAD_LIST_MAPPING.replace('type = "boolean"', 'type = "text"'), "x.toml").mapping()
    more_choices = parse_mapping(LEAD_LIST_MAPPING.replace('"Olark Chat"]', '"Olark Chat", "Event"]'), "y.toml")
    for wrong, said in (
        (retyped, "already a boolean field; the mapping declares text"),
        (more_choices.mapping(), "no choice Event"),
    ):
        with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(ValidationFailedError, match=said):
            import_contacts(uow, OPERATOR, leads, mapping=wrong, source="leads.csv", now=NOW)
    with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(ValidationFailedError, match="orders carry no"):
        import_records(uow, OPERATOR, ORDERS, leads, mapping=mapping, source="x.csv", now=NOW)
    rep = Principal.system(Role.SALES_REP, "a rep's import")
    fresh = parse_mapping(LEAD_LIST_MAPPING.replace("lead_source", "campaign"), "z.toml").mapping()
    with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(ForbiddenError):
        import_contacts(uow, rep, leads, mapping=fresh, source="leads.csv", now=NOW)


def test_a_contacts_file_naming_many_accounts_finds_them_in_a_few_queries(engine: Engine) -> None:
    """Stored accounts are found by name a chunk of names per query (a file naming thousands of
    accounts once asked once per name), linked as before, and new names created once each."""
    from sqlalchemy import event

    from crm_core.entities import Account
    from crm_core.imports.contacts import import_contacts

    with UnitOfWork(make_session_factory(engine)) as uow:
        uow.session.add_all(Account(name=f"Firm {n}", created_at=NOW) for n in range(300))
        uow.commit()
    rows = [{"external_id": f"P-{n}", "last_name": f"P{n}", "account": f"Firm {n % 500}"} for n in range(600)]
    account_reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM accounts" in statement:
            account_reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            report = import_contacts(uow, OPERATOR, _text(rows), source="people.csv", now=NOW)
            uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report.inserted == 600 and len(account_reads) <= 2, len(account_reads)
    assert _count(engine, Account) == 500, "200 new names, each created once"
    with engine.connect() as connection:
        linked = connection.execute(
            select(Contact.external_id, Account.name).join(Account, Account.id == Contact.account_id)
        ).all()
    assert len(linked) == 600 and all(name == f"Firm {int(person[2:]) % 500}" for person, name in linked)


def test_a_file_with_no_id_column_takes_row_ids_constants_and_its_own_separator(engine: Engine) -> None:
    """A campaign export with no id, `;`-separated, every row a lead: the mapping file alone
    says so; a second import matches every row by its row id and adds nothing."""
    from crm_core.imports.contacts import import_contacts
    from crm_core.imports.mapping_files import parse_mapping
    from crm_core.imports.reading import read_table

    mapping = parse_mapping(
        'kind = "contacts"\nseparator = ";"\nrow_ids = "call-"\n[constants]\nlifecycle_stage = "lead"\n'
        '[custom_fields.age]\ncolumn = "age"\ntype = "integer"\n',
        "calls.toml",
    ).mapping()
    frame = read_table(b"age;job\n41;admin.\n;x\nold;y\n", name="calls.csv", separator=mapping.separator)
    assert frame.columns == ["age", "job"], "split at the mapping's separator"

    def load() -> ImportReport:
        with UnitOfWork(make_session_factory(engine)) as uow:
            report = import_contacts(uow, OPERATOR, frame, mapping=mapping, source="calls.csv", now=NOW)
            uow.commit()
        return report

    first = load()
    assert first.inserted == 2 and [(p.row, p.field, p.value) for p in first.rejected] == [(3, "custom.age", "old")]
    with engine.connect() as connection:
        stored = connection.execute(
            select(Contact.external_id, Contact.lifecycle_stage, Contact.custom).order_by(Contact.id)
        ).all()
    assert [tuple(row) for row in stored] == [("call-1", "lead", {"age": 41}), ("call-2", "lead", {})]
    again = load()
    assert (again.inserted, again.unchanged) == (0, 2), "row ids match the same rows again"

    for text, said in (
        ('row_ids = "r-"\n[columns]\nexternal_id = "job"\n', "external_id: fed by a column and by the mapping"),
        ('[constants]\nshoe_size = "9"\n', "constants for shoe_size: not a field of contacts"),
        ('row_ids = "r-"\n[constants]\nlifecycle_stage = "royalty"\n', None),
    ):
        wrong = parse_mapping(text, "wrong.toml").mapping()
        with UnitOfWork(make_session_factory(engine)) as uow:
            if said is None:
                refused = import_contacts(uow, OPERATOR, frame, mapping=wrong, source="calls.csv", now=NOW)
                assert {(p.field, p.value) for p in refused.rejected} == {("lifecycle_stage", "royalty")}
                continue
            with pytest.raises(ValidationFailedError, match=said):
                import_contacts(uow, OPERATOR, frame, mapping=wrong, source="calls.csv", now=NOW)
    with pytest.raises(ValidationFailedError, match="row_ids"):
        parse_mapping('row_ids = "a b"\n', "spaces.toml")
    with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(ValidationFailedError, match="no external id"):
        import_records(uow, OPERATOR, CONSENTS, frame, mapping=ImportMapping(row_ids="x-"), source="c.csv", now=NOW)
