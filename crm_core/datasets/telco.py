"""IBM Telco customer churn (one snapshot of 7,043 customers) as households, people and their
subscriptions.

Each customer becomes an account (the household) and a contact; their services become order
lines of one subscription order, priced at the monthly charge; churned customers are in the
`churned` lifecycle stage. The file has no dates: a customer's start is placed `tenure` months
before the reference date. Demographics and contract terms are custom fields.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_core.datasets.common import REFERENCE_DATE, CustomField, custom_field_rows, dataset_file, yes_no
from crm_core.entities import CustomFieldType

FILE = "telco_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv"
DAYS_PER_MONTH = 30

CONTACT_FIELDS = [
    CustomField("customer_id", "Customer ID", CustomFieldType.TEXT),
    CustomField("gender", "Gender", CustomFieldType.CHOICE, ("Female", "Male")),
    CustomField("senior_citizen", "Senior citizen", CustomFieldType.BOOLEAN),
    CustomField("partner", "Has partner", CustomFieldType.BOOLEAN),
    CustomField("dependents", "Has dependents", CustomFieldType.BOOLEAN),
    CustomField("tenure_months", "Tenure (months)", CustomFieldType.INTEGER),
    CustomField("contract", "Contract", CustomFieldType.CHOICE, ("Month-to-month", "One year", "Two year")),
    CustomField("paperless_billing", "Paperless billing", CustomFieldType.BOOLEAN),
    CustomField(
        "payment_method",
        "Payment method",
        CustomFieldType.CHOICE,
        ("Bank transfer (automatic)", "Credit card (automatic)", "Electronic check", "Mailed check"),
    ),
    CustomField("monthly_charges", "Monthly charges", CustomFieldType.NUMBER),
    CustomField("total_charges", "Total charges", CustomFieldType.NUMBER),
]

# Service columns -> the subscribed product; a value of "Yes" (or an internet type) subscribes.
SERVICES = {
    "PhoneService": "Phone line",
    "MultipleLines": "Additional lines",
    "OnlineSecurity": "Online security",
    "OnlineBackup": "Online backup",
    "DeviceProtection": "Device protection",
    "TechSupport": "Tech support",
    "StreamingTV": "Streaming TV",
    "StreamingMovies": "Streaming movies",
}
INTERNET = {"DSL": "Internet (DSL)", "Fiber optic": "Internet (fiber optic)"}


def read(data_dir: Path) -> pl.DataFrame:
    return pl.read_csv(dataset_file(data_dir, FILE), infer_schema=False)


def tables(data_dir: Path) -> dict[str, pl.DataFrame]:
    raw = read(data_dir).with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
    tenure = pl.col("tenure").cast(pl.Int64)
    started = pl.lit(REFERENCE_DATE) - pl.duration(days=tenure * DAYS_PER_MONTH)
    churned = pl.col("Churn") == "Yes"
    accounts = raw.select(
        "id",
        pl.concat_str(pl.lit("Household "), pl.col("customerID")).alias("name"),
        pl.lit("consumer telecom").alias("industry"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        started.alias("created_at"),
    )
    custom = pl.struct(
        pl.col("customerID").alias("customer_id"),
        pl.col("gender"),
        (pl.col("SeniorCitizen") == "1").alias("senior_citizen"),
        yes_no("Partner").alias("partner"),
        yes_no("Dependents").alias("dependents"),
        tenure.alias("tenure_months"),
        pl.col("Contract").alias("contract"),
        yes_no("PaperlessBilling").alias("paperless_billing"),
        pl.col("PaymentMethod").alias("payment_method"),
        pl.col("MonthlyCharges").cast(pl.Float64).alias("monthly_charges"),
        pl.col("TotalCharges").str.strip_chars().replace("", None).cast(pl.Float64).alias("total_charges"),
    )
    contacts = raw.select(
        "id",
        pl.col("id").alias("account_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.lit("Customer").alias("first_name"),
        pl.col("customerID").alias("last_name"),
        pl.when(pl.col("Churn") == "Yes")
        .then(pl.lit("churned"))
        .otherwise(pl.lit("customer"))
        .alias("lifecycle_stage"),
        started.alias("created_at"),
        custom.alias("custom"),
    )
    products = _products()
    lines = _subscription_lines(raw, products)
    orders = raw.select(
        "id",
        pl.col("id").alias("contact_id"),
        started.alias("ordered_at"),
        pl.when(churned).then(pl.lit("cancelled")).otherwise(pl.lit("completed")).alias("status"),
        pl.col("MonthlyCharges").cast(pl.Float64).alias("total"),
    )
    return {
        "custom_field_definitions": custom_field_rows("contact", CONTACT_FIELDS),
        "accounts": accounts,
        "contacts": contacts,
        "products": products,
        "orders": orders,
        "order_lines": lines,
    }


def _products() -> pl.DataFrame:
    names = [*SERVICES.values(), *INTERNET.values()]
    return pl.DataFrame(
        {
            "id": list(range(1, len(names) + 1)),
            "sku": [f"TELCO-{i:02d}" for i in range(1, len(names) + 1)],
            "name": names,
            "category": ["internet" if name.startswith("Internet") else "service" for name in names],
            "unit_price": [0.0] * len(names),
        }
    )


def _subscription_lines(raw: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    product_id = dict(zip(products["name"], products["id"], strict=True))
    parts = [
        raw.filter(pl.col(column) == "Yes").select(pl.col("id").alias("order_id"), pl.lit(product_id[name]))
        for column, name in SERVICES.items()
    ] + [
        raw.filter(pl.col("InternetService") == kind).select(pl.col("id").alias("order_id"), pl.lit(product_id[name]))
        for kind, name in INTERNET.items()
    ]
    lines = pl.concat([part.rename({part.columns[1]: "product_id"}) for part in parts]).sort("order_id", "product_id")
    return lines.with_row_index("id", offset=1).select(
        pl.col("id").cast(pl.Int64),
        "order_id",
        pl.col("product_id").cast(pl.Int64),
        pl.lit(1).alias("quantity"),
        pl.lit(0.0).alias("unit_price"),
    )
