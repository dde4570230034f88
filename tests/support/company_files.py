"""A company's history as the files its other systems would export: every record kind, with
its own ids, its own column names and date forms, and a share of rows broken in five ways.

Nothing here knows our tables: the files are what a company has, and the mapping files beside
them are all it writes to bring them in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

START = datetime(2024, 1, 1)
BROKEN_SHARE = 0.02
CHANNELS = ("email", "phone", "web")

# The five ways a row breaks, each with the field the import must name for it.
BREAKAGES = ("unknown reference", "bad date", "bad amount", "future date", "missing required")


@dataclass
class CompanyFiles:
    folder: Path
    expected: dict[str, int] = field(default_factory=dict)  # kind -> records that must load
    broken: dict[str, dict[int, str]] = field(default_factory=dict)  # kind -> row -> field at fault
    order: tuple[str, ...] = ()  # kinds in the order they import (references first)

    def file(self, kind: str) -> Path:
        return self.folder / f"{kind}.csv"

    def mapping(self, kind: str) -> Path:
        return self.folder / f"{kind}.toml"


def _day(rng: random.Random, span_days: int = 600) -> datetime:
    return START + timedelta(days=rng.randrange(span_days), minutes=rng.randrange(24 * 60))


def _us(moment: datetime) -> str:
    """The company's date form: US month first, which only a mapping file can say."""
    return moment.strftime("%m/%d/%Y %H:%M")


class _Writer:
    def __init__(self, company: CompanyFiles, rng: random.Random) -> None:
        self.company, self.rng = company, rng

    def write(
        self,
        kind: str,
        rows: list[dict[str, str | None]],
        mapping: str,
        breakable: dict[str, str],
        record_of: str | None = None,
    ) -> set[int]:
        """Break about 2% of the rows (each in one of the ways `breakable` offers: breakage ->
        the column to spoil), write the file and its mapping, and answer the broken rows' indexes.
        `record_of` names the column that groups rows into one record (an order's lines)."""
        broken: dict[int, str] = {}
        ways = [way for way in BREAKAGES if way in breakable]
        count = max(len(ways), int(len(rows) * BROKEN_SHARE)) if ways else 0
        keys = [row[record_of] for row in rows] if record_of else list(range(len(rows)))
        for position, index in enumerate(self.rng.sample(range(len(rows)), count)):
            way = ways[position % len(ways)]
            column = breakable[way]
            rows[index] = rows[index] | {column: _spoiled(way, rows[index][column])}
            broken[index + 1] = way
        self.company.broken[kind] = broken
        spoiled_records = {keys[row - 1] for row in broken}
        self.company.expected[kind] = len(set(keys) - spoiled_records)
        pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String), orient="row").write_csv(self.company.file(kind))
        self.company.mapping(kind).write_text(mapping)
        return {row - 1 for row in broken}


def _spoiled(way: str, value: str | None) -> str | None:
    return {
        "unknown reference": "NO-SUCH-ID",
        "bad date": "31/31/2024 99:99",
        "bad amount": "twelve",
        "future date": "01/01/2099 10:00",
        "missing required": None,
    }[way]


def write_company(folder: Path, *, customers: int = 300, seed: int = 17) -> CompanyFiles:
    rng = random.Random(seed)
    company = CompanyFiles(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(company, rng)
    accounts = [f"ACME-{n}" for n in range(customers // 10)]
    writer.write(
        "accounts",
        [
            {"AccountRef": ref, "Company": f"Company {ref}", "Sector": rng.choice(["retail", "tech"])}
            for ref in accounts
        ],
        'kind = "accounts"\n[columns]\nexternal_id = "AccountRef"\nname = "Company"\nindustry = "Sector"\n',
        {"missing required": "Company"},
    )
    everyone = [f"CU{n:05d}" for n in range(customers)]
    refused = writer.write(
        "contacts",
        [
            {
                "CustomerNo": ref,
                "Given": rng.choice(["Ada", "Bo", None]),
                "Mail": f"{ref.lower()}@company.test" if rng.random() < 0.7 else None,
                "Since": _day(rng, 200).strftime("%Y-%m-%d"),
            }
            for ref in everyone
        ],
        'kind = "contacts"\n[columns]\nexternal_id = "CustomerNo"\nfirst_name = "Given"\nemail = "Mail"\n'
        'created_at = "Since"\n',
        {"bad date": "Since"},
    )
    # Later files name only the people, products and deals that load: each broken row is planned.
    people = [ref for index, ref in enumerate(everyone) if index not in refused]
    catalogue = [f"SKU{n:04d}" for n in range(40)]
    refused = writer.write(
        "products",
        [
            {"Code": sku, "Title": f"Item {sku}", "Price": f"{rng.randint(1, 90)},{rng.randint(0, 99):02d}"}
            for sku in catalogue
        ],
        'kind = "products"\n[columns]\nsku = "Code"\nname = "Title"\nunit_price = "Price"\n'
        "[fields.unit_price]\ndecimal_comma = true\n",
        {"bad amount": "Price", "missing required": "Title"},
    )
    skus = [sku for index, sku in enumerate(catalogue) if index not in refused]
    lines = []
    for number in range(customers * 3):
        customer, placed = rng.choice(people), _us(_day(rng))
        for _ in range(rng.randint(1, 3)):
            lines.append(
                {"Invoice": f"INV{number}", "Cust": customer, "Date": placed, "Item": rng.choice(skus), "Qty": "1"}
            )
    writer.write(
        "orders",
        lines,
        'kind = "orders"\n[columns]\nexternal_id = "Invoice"\ncontact = "Cust"\nordered_at = "Date"\nsku = "Item"\n'
        'quantity = "Qty"\n[fields.ordered_at]\ndate_format = "%m/%d/%Y %H:%M"\n',
        {"unknown reference": "Cust", "bad date": "Date", "bad amount": "Qty", "future date": "Date"},
        record_of="Invoice",
    )
    writer.write(
        "activities",
        [
            {"Id": f"EV{n}", "Cust": rng.choice(people), "Kind": "email_open", "Via": "email", "At": _us(_day(rng))}
            for n in range(customers * 5)
        ],
        'kind = "activities"\n[columns]\nexternal_id = "Id"\ncontact = "Cust"\ntype = "Kind"\nchannel = "Via"\n'
        'occurred_at = "At"\n[fields.occurred_at]\ndate_format = "%m/%d/%Y %H:%M"\n',
        {"unknown reference": "Cust", "bad date": "At", "future date": "At", "missing required": "Kind"},
    )
    opened = [f"DL{n}" for n in range(customers // 3)]
    refused = writer.write(
        "deals",
        [
            {
                "Deal": ref,
                "Title": f"Deal {ref}",
                "Cust": rng.choice(people),
                "Value": str(rng.randint(100, 9000)),
                "Opened": _us(_day(rng, 300)),
            }
            for ref in opened
        ],
        'kind = "deals"\n[columns]\nexternal_id = "Deal"\nname = "Title"\ncontact = "Cust"\namount = "Value"\n'
        'opened_at = "Opened"\n[fields.opened_at]\ndate_format = "%m/%d/%Y %H:%M"\n',
        {"unknown reference": "Cust", "bad amount": "Value", "bad date": "Opened", "missing required": "Title"},
    )
    deals = [ref for index, ref in enumerate(opened) if index not in refused]
    writer.write(
        "deal_stages",
        [
            {"Deal": ref, "Stage": stage, "When": _us(START + timedelta(days=400 + step * 30))}
            for ref in deals
            for step, stage in enumerate(rng.choice([["qualification", "Won"], ["qualification", "proposal", "Lost"]]))
        ],
        'kind = "deal_stages"\n[columns]\ndeal = "Deal"\nstage = "Stage"\nchanged_at = "When"\n'
        '[fields.changed_at]\ndate_format = "%m/%d/%Y %H:%M"\n[fields.stage.values]\nWon = "closed_won"\n'
        'Lost = "closed_lost"\n',
        {},  # a history file is kept whole here: a broken move refuses the deal's later moves too
    )
    writer.write(
        "tickets",
        [
            {
                "Case": f"CS{n}",
                "Cust": rng.choice(people),
                "Via": rng.choice(CHANNELS),
                "About": "Delivery",
                "Opened": _us(_day(rng)),
            }
            for n in range(customers)
        ],
        'kind = "tickets"\n[columns]\nexternal_id = "Case"\ncontact = "Cust"\nchannel = "Via"\nsubject = "About"\n'
        'opened_at = "Opened"\n[fields.opened_at]\ndate_format = "%m/%d/%Y %H:%M"\n',
        {"unknown reference": "Cust", "bad date": "Opened", "future date": "Opened", "missing required": "About"},
    )
    writer.write(
        "consents",
        [{"Cust": ref, "Channel": "email", "OptIn": rng.choice(["Y", "N"]), "When": _us(_day(rng))} for ref in people],
        'kind = "consents"\n[columns]\ncontact = "Cust"\nchannel = "Channel"\nstatus = "OptIn"\nrecorded_at = "When"\n'
        '[fields.recorded_at]\ndate_format = "%m/%d/%Y %H:%M"\n'
        '[fields.status.values]\nY = "granted"\nN = "withdrawn"\n',
        {"unknown reference": "Cust", "bad date": "When", "future date": "When"},
    )
    writer.write(
        "contact_changes",
        [
            {"Cust": ref, "Field": "lifecycle_stage", "Value": stage, "When": _us(START + timedelta(days=day))}
            for ref in people[: len(people) // 2]
            for stage, day in (("customer", 250 + rng.randrange(100)), ("churned", 400 + rng.randrange(150)))
        ],
        'kind = "contact_changes"\n[columns]\ncontact = "Cust"\nfield = "Field"\nvalue = "Value"\n'
        'changed_at = "When"\n[fields.changed_at]\ndate_format = "%m/%d/%Y %H:%M"\n',
        {"unknown reference": "Cust", "bad date": "When", "future date": "When", "missing required": "Field"},
    )
    company.order = (
        "accounts",
        "contacts",
        "products",
        "orders",
        "activities",
        "deals",
        "deal_stages",
        "tickets",
        "consents",
        "contact_changes",
    )
    return company
