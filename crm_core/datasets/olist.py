"""Olist B2B marketing funnel: 8,000 marketing-qualified leads and the 842 deals won from them.

Leads become contacts created at their first contact date, with origin and landing page as
custom fields; won deals are closed-won deals opened at first contact and closed at the won
date, with the deal-side attributes (known only after the lead converted) on the deal, never
on the contact, so they cannot leak into lead features.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_core.datasets.common import CustomField, custom_field_rows, dataset_file
from crm_core.entities import CustomFieldType

LEADS_FILE = "olist_marketing_funnel/olist_marketing_qualified_leads_dataset.csv"
DEALS_FILE = "olist_marketing_funnel/olist_closed_deals_dataset.csv"

CONTACT_FIELDS = [
    CustomField("mql_id", "Lead ID", CustomFieldType.TEXT),
    CustomField("origin", "Lead origin", CustomFieldType.TEXT),
    CustomField("landing_page_id", "Landing page", CustomFieldType.TEXT),
]
DEAL_FIELDS = [
    CustomField("business_segment", "Business segment", CustomFieldType.TEXT),
    CustomField("lead_type", "Lead type", CustomFieldType.TEXT),
    CustomField("business_type", "Business type", CustomFieldType.TEXT),
    CustomField("sdr_id", "SDR", CustomFieldType.TEXT),
    CustomField("sr_id", "Sales rep", CustomFieldType.TEXT),
]


def read(data_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    leads = pl.read_csv(dataset_file(data_dir, LEADS_FILE), infer_schema=False)
    deals = pl.read_csv(dataset_file(data_dir, DEALS_FILE), infer_schema=False)
    return leads, deals


def tables(data_dir: Path) -> dict[str, pl.DataFrame]:
    leads, deals = read(data_dir)
    leads = leads.with_row_index("id", offset=1).with_columns(
        pl.col("id").cast(pl.Int64), pl.col("first_contact_date").str.to_datetime("%Y-%m-%d").alias("first_contact")
    )
    won_ids = set(deals["mql_id"].to_list())
    contacts = leads.select(
        "id",
        pl.lit(None, pl.Int64).alias("account_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.lit("Lead").alias("first_name"),
        pl.col("mql_id").str.slice(0, 12).alias("last_name"),
        pl.when(pl.col("mql_id").is_in(list(won_ids)))
        .then(pl.lit("customer"))
        .otherwise(pl.lit("lead"))
        .alias("lifecycle_stage"),
        pl.col("first_contact").alias("created_at"),
        pl.struct("mql_id", "origin", "landing_page_id").alias("custom"),
    )
    joined = (
        deals.join(leads.select("mql_id", "id", "first_contact"), on="mql_id", how="inner")
        .with_columns(pl.col("won_date").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("won_at"))
        .sort("id")
    )
    deal_rows = joined.with_row_index("deal_id", offset=1).select(
        pl.col("deal_id").cast(pl.Int64).alias("id"),
        pl.lit(None, pl.Int64).alias("account_id"),
        pl.col("id").alias("contact_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.concat_str(pl.lit("Olist seller "), pl.col("seller_id").str.slice(0, 8)).alias("name"),
        pl.col("declared_monthly_revenue").cast(pl.Float64).fill_null(0.0).alias("amount"),
        pl.lit("closed_won").alias("stage"),
        pl.lit("won").alias("status"),
        # A deal is never closed before it opened: the file has a win dated before its lead's
        # first contact, which opens at its win instead.
        pl.min_horizontal("first_contact", "won_at").alias("opened_at"),
        pl.col("won_at").alias("closed_at"),
        pl.struct("business_segment", "lead_type", "business_type", "sdr_id", "sr_id").alias("custom"),
    )
    return {
        "custom_field_definitions": pl.concat(
            [
                custom_field_rows("contact", CONTACT_FIELDS),
                custom_field_rows("deal", DEAL_FIELDS, first_id=len(CONTACT_FIELDS) + 1),
            ]
        ),
        "contacts": contacts,
        "deals": deal_rows,
    }
