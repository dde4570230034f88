"""Each data set loads by name (Olist by its shipped mapping files, Instacart by its own code),
and counts are checked against the file itself (read here with the csv module, independently
of the importer's polars code). Telco and Bank by the CLI: tests/test_shipped_datasets.py."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from crm_core.datasets.registry import import_dataset
from crm_core.entities import Contact, ContactChange, Deal, Order, OrderLine, Product
from crm_core.errors import DatabaseNotEmptyError
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
    source = rows(shared_datasets / "instacart_sample" / "df_sample.csv")
    import_dataset(sqlite_engine, "instacart", shared_datasets)
    assert count(sqlite_engine, Contact) == len({row["user_id"] for row in source}) == 593
    assert count(sqlite_engine, Order) == len({row["order_id"] for row in source}) == 15_183
    assert count(sqlite_engine, OrderLine) == len(source) == 150_000
    assert count(sqlite_engine, Product) == len({row["product_id"] for row in source}) == 14_190
    numbers = {int(row["order_id"]): int(row["order_number"]) for row in source}
    with sqlite_engine.connect() as connection:
        orders = connection.execute(select(Order.id, Order.contact_id, Order.ordered_at)).all()
    by_user: dict[int, list[tuple[int, object]]] = {}
    for order_id, contact_id, ordered_at in orders:
        by_user.setdefault(contact_id, []).append((numbers[order_id], ordered_at))
    for history in by_user.values():
        times = [when for _, when in sorted(history)]
        assert times == sorted(times), "order numbers and timestamps agree"


def test_a_data_set_mapped_by_code_goes_into_an_empty_crm_only(sqlite_engine: Engine, shared_datasets: Path) -> None:
    import_dataset(sqlite_engine, "instacart", shared_datasets)
    with pytest.raises(DatabaseNotEmptyError):
        import_dataset(sqlite_engine, "instacart", shared_datasets)
    assert count(sqlite_engine, Contact) == 593


def test_the_cli_loads_a_data_set_into_a_fresh_home(tmp_path: Path, shared_datasets: Path) -> None:
    home = DataHome(tmp_path / "home")
    done = home.cli("import-dataset", "instacart", "--data-dir", str(shared_datasets), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "contacts: 593" in done.stdout and "orders: 15,183" in done.stdout
    again = home.cli("import-dataset", "instacart", "--data-dir", str(shared_datasets), cwd=tmp_path)
    assert again.returncode == 1 and "empty CRM" in again.stdout
    missing = home.cli("import-dataset", "olist", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stdout
    unknown = home.cli("import-dataset", "../telco", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown data set '../telco'" in unknown.stdout
