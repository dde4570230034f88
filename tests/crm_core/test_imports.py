"""Contact import: 10,000 rows with malformed rows and near-duplicates, through the service, the
API (CSV and Parquet) and the CLI; re-import adds nothing; a failed import leaves nothing."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Account, AuditEvent, Contact
from crm_core.imports.bulk_records import ImportMapping
from crm_core.imports.contacts import import_contacts
from crm_core.imports.reading import read_table
from crm_core.imports.typed_columns import ColumnOptions
from crm_core.protection.lookup import email_lookup
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork
from tests.conftest import DataHome
from tests.crm_core.conftest import World

OPERATOR = Principal.system(Role.ADMIN, "import tests")
ROWS = 10_000
MALFORMED_SHARE = 0.05
DUPLICATE_SHARE = 0.03

# How a row is broken, and the field the report must name for it.
BREAKAGES = {
    "email": lambda row: row | {"E-mail": "not-an-email"},
    "phone": lambda row: row | {"phone": "call me maybe"},
    "first_name": lambda row: row | {"First Name": "N" * 101},
    "created_at": lambda row: row | {"created_at": "03/04/2025"},
    "lifecycle_stage": lambda row: row | {"lifecycle_stage": "vip"},
}


@dataclass(frozen=True)
class ImportFile:
    frame: pl.DataFrame
    malformed: dict[int, str]  # 1-based row -> field the report must name
    duplicates: set[int]  # rows that repeat an earlier person
    filled_by_duplicate: dict[str, str]  # email -> address only a duplicate row carries

    @property
    def people(self) -> int:
        return self.frame.height - len(self.malformed) - len(self.duplicates)

    def csv_bytes(self) -> bytes:
        return self.frame.write_csv().encode()


def make_import_file(seed: int = 3) -> ImportFile:
    rng = random.Random(seed)
    malformed_count, duplicate_count = int(ROWS * MALFORMED_SHARE), int(ROWS * DUPLICATE_SHARE)
    base_count = ROWS - duplicate_count
    rows: list[dict[str, str | None]] = []
    for i in range(base_count):
        rows.append(
            {
                "First Name": f"First{i}",
                "Last Name": f"Last{i}",
                "E-mail": f"person.{i}@example.com",
                "phone": f"+1 (555) {i:07d}",
                "address": None if i % 4 == 0 else f"{i} Main Street",
                "lifecycle_stage": rng.choice(["lead", "Customer", "churned"]),
                "created_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
            }
        )
    breakable = rng.sample(range(base_count), malformed_count)
    malformed: dict[int, str] = {}
    for position, index in enumerate(breakable):
        field = list(BREAKAGES)[position % len(BREAKAGES)]
        rows[index] = BREAKAGES[field](rows[index])
        malformed[index + 1] = field
    good = [index for index in range(base_count) if index + 1 not in malformed]
    filled: dict[str, str] = {}
    for index in rng.sample(good, duplicate_count):
        original = rows[index]
        email = str(original["E-mail"])
        copy = original | {"E-mail": f"  {email.upper()} ", "phone": str(original["phone"]).replace(" ", "")}
        if original["address"] is None:
            copy["address"] = f"{index} Late Lane"
            filled[email] = f"{index} Late Lane"
        rows.append(copy)
    order = list(range(len(rows)))
    rng.shuffle(order)
    shuffled = [rows[i] for i in order]
    new_row_of = {old: new + 1 for new, old in enumerate(order)}
    malformed_rows = {new_row_of[old - 1]: field for old, field in malformed.items()}
    duplicate_rows = {new_row_of[i] for i in range(base_count, len(rows))}
    # The first appearance of a person is the one kept: a shuffled duplicate may come first.
    first_seen: dict[str, int] = {}
    for number, row in enumerate(shuffled, start=1):
        if number in malformed_rows:
            continue
        key = str(row["E-mail"]).strip().lower()
        first_seen.setdefault(key, number)
    duplicate_rows = {
        number
        for number, row in enumerate(shuffled, start=1)
        if number not in malformed_rows and first_seen[str(row["E-mail"]).strip().lower()] != number
    }
    frame = pl.DataFrame(shuffled, schema=dict.fromkeys(rows[0], pl.String), orient="row")
    return ImportFile(frame, malformed_rows, duplicate_rows, filled)


MAPPING = {"email": "E-mail"}  # the other columns are found by name ("First Name" -> first_name)
COLUMN_OF = {
    "email": "E-mail",
    "phone": "phone",
    "first_name": "First Name",
    "created_at": "created_at",
    "lifecycle_stage": "lifecycle_stage",
}


def contact_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Contact)).scalar_one())


@pytest.fixture(scope="module")
def import_file() -> ImportFile:
    return make_import_file()


def test_every_bad_row_is_named_every_good_row_lands_and_reimport_adds_nothing(
    engine: Engine, import_file: ImportFile
) -> None:
    session_factory = make_session_factory(engine)
    frame = read_table(import_file.csv_bytes(), name="people.csv")
    with UnitOfWork(session_factory) as uow:
        report = import_contacts(uow, OPERATOR, frame, mapping=MAPPING, source="people.csv", now=utc_now())
        uow.commit()
    assert {problem.row: problem.field for problem in report.rejected} == import_file.malformed
    assert all(problem.reason for problem in report.rejected)
    # Each problem quotes the cell at fault as the file gave it (a missing cell quotes nothing).
    for problem in report.rejected:
        assert problem.value == frame[COLUMN_OF[problem.field]][problem.row - 1], problem
    assert report.duplicates_in_file == len(import_file.duplicates)
    assert report.inserted == import_file.people == contact_count(engine)
    with UnitOfWork(session_factory) as uow:
        assert import_file.filled_by_duplicate, "the file has duplicates that fill gaps"
        for email, address in import_file.filled_by_duplicate.items():
            found = uow.session.scalar(select(Contact).where(Contact.email_hash == email_lookup(email)))
            assert found is not None and found.address == address, "a duplicate row fills a gap"

    with UnitOfWork(session_factory) as uow:
        again = import_contacts(uow, OPERATOR, frame, mapping=MAPPING, source="people.csv", now=utc_now())
        uow.commit()
    assert (again.inserted, again.merged) == (0, 0)
    assert again.unchanged == import_file.people
    assert contact_count(engine) == import_file.people


def test_a_failure_before_commit_leaves_no_partial_import(
    engine: Engine, import_file: ImportFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(audit, "record", crash)  # after every row is flushed, before commit
    frame = read_table(import_file.csv_bytes())

    def import_and_commit() -> None:
        with UnitOfWork(make_session_factory(engine)) as uow:
            import_contacts(uow, OPERATOR, frame, mapping=MAPPING, source="people.csv", now=utc_now())
            uow.commit()

    with pytest.raises(RuntimeError, match="power cut"):
        import_and_commit()
    assert contact_count(engine) == 0


def test_a_rep_imports_parquet_over_the_api_and_owns_the_new_contacts(world: World, import_file: ImportFile) -> None:
    sample = import_file.frame.head(400)
    buffer = io.BytesIO()
    sample.write_parquet(buffer)
    before = contact_count(world.engine)
    response = world.client.post(
        "/imports/contacts",
        files={"file": ("people.parquet", buffer.getvalue(), "application/octet-stream")},
        data={"mapping": '{"email": "E-mail"}'},
        headers=world.headers(Role.SALES_REP),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    rejected_rows = {problem["row"] for problem in report["rejected"]}
    assert rejected_rows == {row for row in import_file.malformed if row <= 400}
    assert contact_count(world.engine) - before == report["inserted"] > 300
    with world.engine.connect() as connection:
        owners = set(connection.execute(select(Contact.owner_id).where(Contact.email_hash.is_not(None))).scalars())
        event = connection.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert owners == {world.users[Role.SALES_REP]}
    assert event.action == "contact.import" and event.details["inserted"] == report["inserted"]
    assert "@example.com" not in str(event.details), "the audit trail holds counts, not people"


def test_imports_are_refused_for_roles_without_create_and_for_bad_mappings(world: World) -> None:
    csv = b"first_name,last_name\nAda,Lovelace\n"
    files = {"file": ("p.csv", csv, "text/csv")}
    denied = world.client.post("/imports/contacts", files=files, headers=world.headers(Role.MARKETER))
    assert denied.status_code == 403
    bad = world.client.post(
        "/imports/contacts", files=files, data={"mapping": '{"shoe_size": "x"}'}, headers=world.headers(Role.ADMIN)
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "mapping")
    unmapped = world.client.post(
        "/imports/contacts", files={"file": ("p.csv", b"a,b\n1,2\n", "text/csv")}, headers=world.headers(Role.ADMIN)
    )
    assert unmapped.status_code == 422
    detail = unmapped.json()["detail"]
    assert "first_name or last_name or email or external_id" in detail and "'a', 'b'" in detail, "the columns are named"


def test_the_cli_imports_and_writes_the_problems_file(tmp_path: Path, import_file: ImportFile) -> None:
    home = DataHome(tmp_path / "home")
    path = tmp_path / "people.csv"
    import_file.frame.head(1_000).write_csv(path)
    done = home.cli("import", "contacts", str(path), "--map", "email=E-mail", cwd=tmp_path)
    assert done.returncode == 3, "good rows loaded, some refused: a script learns it from the exit code"
    assert "new contacts" in done.stdout and "refused" in done.stdout
    problems = sorted((home.path / "imports").glob("people-*-problems.csv"))
    assert len(problems) == 1
    listed = pl.read_csv(problems[0], infer_schema=False)
    assert set(listed["row"].cast(pl.Int64).to_list()) == {row for row in import_file.malformed if row <= 1_000}
    # Beside each reason, the row's own cells: the file can be fixed in place and imported again.
    sent = import_file.frame.head(1_000)
    for row, email in zip(listed["row"].cast(pl.Int64), listed["E-mail"], strict=True):
        assert email == sent["E-mail"][row - 1]
    clean = tmp_path / "clean.csv"
    sent.filter(~pl.int_range(1, sent.height + 1).is_in(list(import_file.malformed))).write_csv(clean)
    assert home.cli("import", "contacts", str(clean), "--map", "email=E-mail", cwd=tmp_path).returncode == 0
    out = tmp_path / "out" / "contacts.csv"
    exported = home.cli("export", "contacts", "--out", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert pl.read_csv(out).height == int(exported.stdout.split()[0].replace(",", "")) > 900
    opted_in = home.cli("export", "contacts", "--out", str(out), "--consent", "email", cwd=tmp_path)
    assert opted_in.stdout.startswith("0 contacts"), "nobody in the file gave consent"


def test_a_customer_export_with_only_ids_or_only_emails_loads_and_matches_on_the_id(engine: Engine) -> None:
    """Contacts need a name, an email or an external id, not all of them; the external id is
    the strongest match (a re-import changes nothing, a later row fills gaps), an email given to
    two ids is refused, and a row naming nobody is refused with the reason."""
    frame = read_table(
        b"customer_id,email,first_name,since\n"
        b"K-1,,,2024-01-05\n"
        b"K-2,bo@example.com,,2024-02-01\n"
        b",cy@example.com,,\n"
        b"K-1,ada@example.com,Ada,\n"
        b"K-3,bo@example.com,,\n"
        b",,,2024-03-01\n",
        name="customers.csv",
    )
    mapping = {"external_id": "customer_id", "created_at": "since"}

    def run() -> object:
        with UnitOfWork(make_session_factory(engine)) as uow:
            report = import_contacts(uow, OPERATOR, frame, mapping=mapping, source="customers.csv", now=utc_now())
            uow.commit()
        return report

    report = run()
    assert (report.inserted, report.duplicates_in_file) == (3, 1)  # type: ignore[attr-defined]
    refused = {(problem.row, problem.field): problem.reason for problem in report.rejected}  # type: ignore[attr-defined]
    assert refused == {
        (5, "email"): "is given to another person in this file (row 2)",
        (6, "row"): "needs a name, an email or an external id",
    }
    with engine.connect() as connection:
        stored = connection.execute(
            select(Contact.external_id, Contact.first_name, Contact.email_hash).order_by(Contact.id)
        ).all()
    assert [(row[0], row[1], row[2]) for row in stored] == [
        ("K-1", "Ada", email_lookup("ada@example.com")),  # the later row filled the gaps
        ("K-2", "", email_lookup("bo@example.com")),
        (None, "", email_lookup("cy@example.com")),
    ]
    again = run()
    assert (again.inserted, again.merged, again.unchanged) == (0, 0, 3)  # type: ignore[attr-defined]

    # A stored contact found by email takes the file's external id once; an email that belongs to
    # a stored contact with another id is refused rather than moved.
    later = read_table(b"customer_id,email\nK-4,cy@example.com\nK-5,bo@example.com\n", name="later.csv")
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_contacts(
            uow, OPERATOR, later, mapping={"external_id": "customer_id"}, source="l", now=utc_now()
        )
        uow.commit()
    assert (report.inserted, report.merged) == (0, 1)
    assert [(p.row, p.field, p.reason) for p in report.rejected] == [
        (2, "email", "this email belongs to another stored contact")
    ]
    with engine.connect() as connection:
        cy = connection.execute(select(Contact.external_id).where(Contact.email_hash == email_lookup("cy@example.com")))
        assert cy.scalar_one() == "K-4"


def test_a_contacts_file_in_its_own_forms_loads_by_its_mapping(engine: Engine) -> None:
    """Dates in the file's own form and its own words for stages, as any record kind takes
    them; a row with several bad cells names each; a repeat fills gaps, never overwrites."""
    frame = read_table(
        b"ref,name,mail,since,status,company\n"
        b"C-1,Ada,ADA@Example.com,03/04/2024,Kunde,Acme\n"
        b"C-2,Bo,bo@example.com,31/12/2023,Interessent,Acme\n"
        b"C-3,Cy,not-an-email,13/13/2024,vip,\n"
        b"C-1,Adele,,,,Other Co\n"
        b"C-4,Di,di@example.com,01/01/2999,,\n",
        name="kunden.csv",
    )
    mapping = ImportMapping(
        {"external_id": "ref", "first_name": "name", "email": "mail", "created_at": "since"}
        | {"lifecycle_stage": "status", "account": "company"},
        {
            "created_at": ColumnOptions(date_format="%d/%m/%Y"),
            "lifecycle_stage": ColumnOptions(values={"Kunde": "customer", "Interessent": "lead"}),
        },
    )
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_contacts(uow, OPERATOR, frame, mapping=mapping, source="kunden.csv", now=utc_now())
        uow.commit()
    assert (report.inserted, report.duplicates_in_file) == (2, 1)
    assert [(problem.row, problem.field, problem.value) for problem in report.rejected] == [
        (3, "created_at", "13/13/2024"),
        (3, "email", "not-an-email"),
        (3, "lifecycle_stage", "vip"),
        (5, "created_at", "01/01/2999"),
    ]
    with engine.connect() as connection:
        stored = connection.execute(
            select(Contact.external_id, Contact.first_name, Contact.lifecycle_stage, Contact.created_at, Account.name)
            .join(Account, Contact.account_id == Account.id)
            .order_by(Contact.external_id)
        ).all()
        accounts = connection.execute(select(func.count()).select_from(Account)).scalar_one()
    assert [tuple(row) for row in stored] == [
        ("C-1", "Ada", "customer", datetime(2024, 4, 3), "Acme"),
        ("C-2", "Bo", "lead", datetime(2023, 12, 31), "Acme"),
    ]
    assert accounts == 1, "a repeat's account fills no gap: C-1 already named one"
