"""Each real-data importer loads its data set, and counts are checked against the file itself
(read here with the csv module, independently of the importer's polars code)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from crm_core.datasets.registry import import_dataset
from crm_core.entities import Activity, Contact, CustomFieldDefinition, Deal, Order, OrderLine, Product
from crm_core.errors import DatabaseNotEmptyError
from tests.conftest import DataHome

pytestmark = pytest.mark.realdata


def rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def test_telco_customers_households_and_subscriptions(sqlite_engine: Engine, shared_datasets: Path) -> None:
    source = rows(shared_datasets / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    loaded = import_dataset(sqlite_engine, "telco", shared_datasets)
    services = ("PhoneService", "MultipleLines", "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport")
    streaming = ("StreamingTV", "StreamingMovies")
    expected_lines = sum(row[c] == "Yes" for row in source for c in services + streaming) + sum(
        row["InternetService"] != "No" for row in source
    )
    assert loaded["contacts"] == count(sqlite_engine, Contact) == len(source) == 7_043
    assert count(sqlite_engine, Contact, Contact.lifecycle_stage == "churned") == sum(
        row["Churn"] == "Yes" for row in source
    )
    assert count(sqlite_engine, OrderLine) == expected_lines
    with sqlite_engine.connect() as connection:
        stored = dict(connection.execute(select(Contact.last_name, Contact.custom)).tuples().all())
    for row in source[:200]:
        custom = stored[row["customerID"]]
        assert custom["tenure_months"] == int(row["tenure"]) and custom["contract"] == row["Contract"]
        assert ("total_charges" in custom) is bool(row["TotalCharges"].strip()), "blank charges stay absent"
    assert count(sqlite_engine, CustomFieldDefinition) == 11


def test_bank_calls_in_file_order_with_outcomes(sqlite_engine: Engine, shared_datasets: Path) -> None:
    source = rows(shared_datasets / "bank_marketing" / "bank-additional-full.csv", delimiter=";")
    import_dataset(sqlite_engine, "bank", shared_datasets)
    assert count(sqlite_engine, Contact) == count(sqlite_engine, Activity) == len(source) == 41_188
    assert count(sqlite_engine, Deal, Deal.status == "won") == Counter(row["y"] for row in source)["yes"]
    with sqlite_engine.connect() as connection:
        times = connection.execute(select(Activity.occurred_at).order_by(Activity.id)).scalars().all()
        first = connection.execute(select(Activity.properties).where(Activity.id == 1)).scalar_one()
    assert times == sorted(times), "time order is the file's (date) order"
    assert (times[0].year, times[-1].year, times[-1].month) == (2008, 2010, 11)
    assert first["duration"] == source[0]["duration"], "kept on the call, for the leakage test to exclude"


def test_olist_leads_and_won_deals(sqlite_engine: Engine, shared_datasets: Path) -> None:
    leads = rows(shared_datasets / "olist_marketing_funnel" / "olist_marketing_qualified_leads_dataset.csv")
    deals = rows(shared_datasets / "olist_marketing_funnel" / "olist_closed_deals_dataset.csv")
    import_dataset(sqlite_engine, "olist", shared_datasets)
    assert count(sqlite_engine, Contact) == len(leads) == 8_000
    assert count(sqlite_engine, Deal, Deal.status == "won") == len(deals) == 842
    assert count(sqlite_engine, Contact, Contact.lifecycle_stage == "customer") == len({d["mql_id"] for d in deals})
    first_contact = {lead["mql_id"]: lead["first_contact_date"] for lead in leads}
    won_early = sum(deal["won_date"][:10] < first_contact[deal["mql_id"]] for deal in deals)
    with sqlite_engine.connect() as connection:
        backwards = connection.execute(select(func.count()).where(Deal.closed_at < Deal.opened_at)).scalar_one()
        at_win = connection.execute(select(func.count()).where(Deal.closed_at == Deal.opened_at)).scalar_one()
    assert backwards == 0, "no deal closes before it opens"
    assert at_win == won_early == 1, "the file's one win dated before first contact opens at its win"


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


def test_a_data_set_goes_into_an_empty_crm_only(sqlite_engine: Engine, shared_datasets: Path) -> None:
    import_dataset(sqlite_engine, "olist", shared_datasets)
    with pytest.raises(DatabaseNotEmptyError):
        import_dataset(sqlite_engine, "olist", shared_datasets)
    assert count(sqlite_engine, Contact) == 8_000


def test_the_cli_loads_a_data_set_into_a_fresh_home(tmp_path: Path, shared_datasets: Path) -> None:
    home = DataHome(tmp_path / "home")
    done = home.cli("import-dataset", "olist", "--data-dir", str(shared_datasets), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "contacts: 8,000" in done.stdout and "deals: 842" in done.stdout
    again = home.cli("import-dataset", "olist", "--data-dir", str(shared_datasets), cwd=tmp_path)
    assert again.returncode == 1 and "empty CRM" in again.stdout
    missing = home.cli("import-dataset", "bank", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stdout
