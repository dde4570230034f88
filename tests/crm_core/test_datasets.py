"""Olist and Instacart load by name through their shipped mapping files, and counts are checked
against the file itself (read here with the csv module, independently of the importer's polars
code). Telco and Bank by the CLI: tests/test_shipped_datasets.py."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from crm_core.datasets.registry import import_dataset
from crm_core.entities import Contact, ContactChange, Deal, Order, OrderLine, Product
from tests.conftest import DataHome

pytestmark = pytest.mark.realdata


def rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def test_olist_leads_won_deals_and_their_conversions(sqlite_engine: Engine, shared_datasets: Path) -> None:
    """Three mapping files over two files: the leads, the won deals, and the same deals read as
    each lead's stage history (it became a customer on its won date)."""
    leads = rows(shared_datasets / "olist_marketing_funnel" / "olist_marketing_qualified_leads_dataset.csv")
    deals = rows(shared_datasets / "olist_marketing_funnel" / "olist_closed_deals_dataset.csv")
    loaded = import_dataset(sqlite_engine, "olist", shared_datasets)
    assert loaded == {"contacts": 8_000, "deals": 842, "contact_changes": 842}
    assert count(sqlite_engine, Contact) == len(leads) == 8_000
    assert count(sqlite_engine, Deal, Deal.status == "won") == len(deals) == 842
    first_contact = {lead["mql_id"]: lead["first_contact_date"] for lead in leads}
    won_after_contact = sum(deal["won_date"][:10] >= first_contact[deal["mql_id"]] for deal in deals)
    assert count(sqlite_engine, Contact, Contact.lifecycle_stage == "customer") == won_after_contact == 841, (
        "the file's one win dated before its lead's first contact: in date order, the lead came after"
    )
    with sqlite_engine.connect() as connection:
        opened_at_win = connection.execute(select(func.count()).where(Deal.closed_at == Deal.opened_at)).scalar_one()
        changes = connection.execute(
            select(ContactChange.changed_at).where(
                ContactChange.field == "lifecycle_stage", ContactChange.value == "customer"
            )
        ).scalars()
        stored = dict(connection.execute(select(Contact.external_id, Contact.custom)).tuples().all())
    assert opened_at_win == 842, "a won deal the file gives no opening date opened when it was won"
    assert sorted(f"{when:%Y-%m-%d %H:%M:%S}" for when in changes) == sorted(d["won_date"] for d in deals)
    for lead in leads[:300]:
        custom = stored[lead["mql_id"]]
        assert custom.get("origin") == (lead["origin"] or None) and custom["landing_page"] == lead["landing_page_id"]


def test_instacart_shoppers_orders_and_products(sqlite_engine: Engine, shared_datasets: Path) -> None:
    """One file read three times: its products, its shoppers (joined on their first order),
    its orders dated by the days between each shopper's orders."""
    source = rows(shared_datasets / "instacart_sample" / "df_sample.csv")
    import_dataset(sqlite_engine, "instacart", shared_datasets)
    assert count(sqlite_engine, Contact) == len({row["user_id"] for row in source}) == 593
    assert count(sqlite_engine, Order) == len({row["order_id"] for row in source}) == 15_183
    assert count(sqlite_engine, OrderLine) == len(source) == 150_000
    assert count(sqlite_engine, Product) == len({row["product_id"] for row in source}) == 14_190
    numbers = {int(row["order_id"]): int(row["order_number"]) for row in source}
    with sqlite_engine.connect() as connection:
        # Orders and shoppers keep the file's ids as their external ids.
        orders = [
            (int(order_id), contact_id, ordered_at)
            for order_id, contact_id, ordered_at in connection.execute(
                select(Order.external_id, Order.contact_id, Order.ordered_at)
            ).tuples()
        ]
    by_user: dict[int, list[tuple[int, datetime]]] = {}
    for order_id, contact_id, ordered_at in orders:
        by_user.setdefault(contact_id, []).append((numbers[order_id], ordered_at))
    gaps = {int(row["order_id"]): row["days_since_prior_order"] for row in source}
    for history in by_user.values():
        times = [when for _, when in sorted(history)]
        assert times == sorted(times), "order numbers and timestamps agree"
        assert f"{times[-1]:%Y-%m-%d}" == "2026-01-01", "each shopper's last order on the anchor day"
    for order_id, contact_id, ordered_at in orders[:500]:
        earlier = [when for number, when in sorted(by_user[contact_id]) if number < numbers[order_id]]
        if earlier:
            assert (ordered_at.date() - earlier[-1].date()).days == int(float(gaps[order_id])), "the file's gap"
    with sqlite_engine.connect() as connection:
        joined = dict(connection.execute(select(Contact.id, Contact.created_at)).tuples().all())
    assert all(joined[user] == min(when for _, when in history) for user, history in by_user.items())


def test_a_second_load_adds_nothing(sqlite_engine: Engine, shared_datasets: Path) -> None:
    first = import_dataset(sqlite_engine, "instacart", shared_datasets)
    assert first == {"products": 14_190, "contacts": 593, "orders": 15_183}
    assert import_dataset(sqlite_engine, "instacart", shared_datasets) == dict.fromkeys(first, 0)
    assert count(sqlite_engine, Contact) == 593 and count(sqlite_engine, OrderLine) == 150_000


def test_the_cli_loads_a_data_set_into_a_fresh_home(tmp_path: Path, shared_datasets: Path) -> None:
    home = DataHome(tmp_path / "home")
    done = home.cli("import-dataset", "instacart", "--data-dir", str(shared_datasets), cwd=tmp_path)
    shown = " ".join(done.stdout.replace("│", " ").split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "new contacts 593" in shown and "new orders 15,183" in shown and "with order lines 150,000" in shown
    installed = (home.path / "models.toml").read_text()
    assert 'name = "recommend"' in installed and "horizon_days = 1" in installed, "judged on each last basket"
    assert "models recommend written to" in shown
    missing = home.cli("import-dataset", "olist", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stdout
    unknown = home.cli("import-dataset", "../telco", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown data set '../telco'" in unknown.stdout
