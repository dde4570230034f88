"""Instacart grocery orders (593 shoppers with complete histories) as contacts, orders and
products.

The file has relative time only (days since the prior order, weekday, hour): each shopper's
orders are laid out so their last order falls on the reference date, at the recorded hour.
Product ids become SKUs; names and prices are not in the sample.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_core.datasets.common import REFERENCE_DATE, dataset_file

FILE = "instacart_sample/df_sample.csv"


def read(data_dir: Path) -> pl.DataFrame:
    frame = pl.read_csv(dataset_file(data_dir, FILE), infer_schema=False)
    return frame.drop(frame.columns[0]).with_columns(
        pl.col("order_id", "user_id", "order_number", "order_hour_of_day", "product_id").cast(pl.Int64),
        pl.col("add_to_cart_order").cast(pl.Float64).cast(pl.Int64),
        pl.col("days_since_prior_order").cast(pl.Float64),
    )


def tables(data_dir: Path) -> dict[str, pl.DataFrame]:
    lines = read(data_dir)
    orders = (
        lines.group_by("order_id")
        .agg(
            pl.first("user_id"),
            pl.first("order_number"),
            pl.first("order_hour_of_day"),
            pl.first("days_since_prior_order"),
        )
        .sort("user_id", "order_number")
        .with_columns(pl.col("days_since_prior_order").fill_null(0.0).cum_sum().over("user_id").alias("day"))
        .with_columns((pl.col("day").max().over("user_id") - pl.col("day")).alias("days_before_last"))
        .with_columns(
            (
                pl.lit(REFERENCE_DATE)
                - pl.duration(days=pl.col("days_before_last").cast(pl.Int64))
                + pl.duration(hours=pl.col("order_hour_of_day"))
            ).alias("ordered_at")
        )
    )
    users = orders.group_by("user_id").agg(pl.min("ordered_at").alias("created_at")).sort("user_id")
    contacts = users.select(
        pl.col("user_id").alias("id"),
        pl.lit(None, pl.Int64).alias("account_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.lit("Shopper").alias("first_name"),
        pl.col("user_id").cast(pl.String).alias("last_name"),
        pl.lit("customer").alias("lifecycle_stage"),
        "created_at",
    )
    products = (
        lines.select("product_id")
        .unique()
        .sort("product_id")
        .select(
            pl.col("product_id").alias("id"),
            pl.format("IC-{}", pl.col("product_id")).alias("sku"),
            pl.format("Product {}", pl.col("product_id")).alias("name"),
            pl.lit("grocery").alias("category"),
            pl.lit(0.0).alias("unit_price"),
        )
    )
    order_rows = orders.select(
        pl.col("order_id").alias("id"),
        pl.col("user_id").alias("contact_id"),
        "ordered_at",
        pl.lit("completed").alias("status"),
        pl.lit(0.0).alias("total"),
    )
    line_rows = (
        lines.sort("order_id", "add_to_cart_order")
        .with_row_index("id", offset=1)
        .select(
            pl.col("id").cast(pl.Int64),
            "order_id",
            "product_id",
            pl.lit(1).alias("quantity"),
            pl.lit(0.0).alias("unit_price"),
        )
    )
    return {"contacts": contacts, "products": products, "orders": order_rows, "order_lines": line_rows}
