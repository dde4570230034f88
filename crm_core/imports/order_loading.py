"""Orders from a file: one row per order, or one row per line with the order's fields repeated
(how shops export them). Rows sharing an order's external id are one order; an order loads
whole or not at all, so its total is never built from half its lines.

The total is the amount the file gives for the order; without one, the sum of its lines
(quantity x the line's price, or the catalogue's price when the file has none).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import select

from crm_core.entities import Order, OrderLine, Product
from crm_core.imports.bulk_records import REFUSED, ROW, LoadContext, Loaded
from crm_core.imports.loading import already_stored, insert_rows, reserve_ids
from crm_core.schemas.imports import ImportProblem

ORDER = "order_key"
ORDER_FIELDS = ("external_id", "contact_id", "ordered_at", "status", "total")
DEFAULT_STATUS = "completed"


def load_orders(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
    keyed = parsed.with_columns(
        pl.coalesce(pl.col("external_id"), pl.concat_str(pl.lit("\x00row "), pl.col(ROW).cast(pl.String))).alias(ORDER)
    )
    problems = _siblings_of_refused(keyed)
    refused_orders = keyed.filter(pl.col(REFUSED))[ORDER].unique()
    good = keyed.filter(~pl.col(ORDER).is_in(refused_orders.implode()))
    stored = already_stored(ctx.uow, Order, "external_id", good["external_id"])
    unchanged = good.filter(pl.col("external_id").is_in(list(stored)))[ORDER].n_unique()
    fresh = good.filter(~pl.col("external_id").is_in(list(stored)) | pl.col("external_id").is_null())
    priced = _with_line_prices(ctx, fresh)
    orders = _orders(priced)
    empty = orders.filter(pl.col("total").is_null())
    problems.extend(
        ImportProblem(row=row, field="total", reason="the order has no amount and no lines to sum")
        for row in empty["first_row"]
    )
    orders = orders.filter(pl.col("total").is_not_null())
    orders = orders.with_columns(pl.Series("id", reserve_ids(ctx.uow, Order, orders.height), dtype=pl.Int64))
    insert_rows(ctx.uow, Order, orders.select("id", *ORDER_FIELDS))
    order_ids = orders.select(ORDER, pl.col("id").alias("order_id"))
    lines = (
        priced.filter(pl.col("product_id").is_not_null())
        .join(order_ids, on=ORDER, how="inner")
        .select("order_id", "product_id", "quantity", pl.col("line_price").alias("unit_price"))
    )
    insert_rows(ctx.uow, OrderLine, lines)
    return Loaded(
        inserted=orders.height,
        unchanged=unchanged,
        duplicates_in_file=0,
        problems=problems,
        details={"order_lines": lines.height},
    )


def _siblings_of_refused(keyed: pl.DataFrame) -> list[ImportProblem]:
    """The good rows of an order with a refused row: named, so the problems file holds the whole order."""
    refused = keyed.filter(pl.col(REFUSED)).group_by(ORDER).agg(pl.col(ROW).min().alias("first_refused"))
    siblings = keyed.filter(~pl.col(REFUSED)).join(refused, on=ORDER, how="inner")
    return [
        ImportProblem(row=row, field="external_id", reason=f"another line of this order was refused (row {first})")
        for row, first in siblings.select(ROW, "first_refused").iter_rows()
    ]


def _with_line_prices(ctx: LoadContext, rows: pl.DataFrame) -> pl.DataFrame:
    """Each line's price: the file's, else the catalogue's; its quantity: the file's, else 1."""
    wanted = rows["product_id"].drop_nulls().unique().to_list()
    catalogue = dict(
        ctx.uow.session.execute(select(Product.id, Product.unit_price).where(Product.id.in_(wanted))).tuples().all()
        if wanted
        else []
    )
    prices = pl.DataFrame(
        {"product_id": list(catalogue), "catalogue_price": [float(price) for price in catalogue.values()]},
        schema={"product_id": pl.Int64, "catalogue_price": pl.Float64},
    )
    return rows.join(prices, on="product_id", how="left").with_columns(
        pl.when(pl.col("product_id").is_not_null()).then(pl.col("quantity").fill_null(1.0)).alias("quantity"),
        pl.coalesce(pl.col("unit_price"), pl.col("catalogue_price")).alias("line_price"),
    )


def _orders(priced: pl.DataFrame) -> pl.DataFrame:
    return (
        priced.group_by(ORDER, maintain_order=True)
        .agg(
            pl.col(ROW).first().alias("first_row"),
            pl.col("external_id").first(),
            pl.col("contact_id").first(),
            pl.col("ordered_at").first(),
            pl.col("status").first().fill_null(DEFAULT_STATUS),
            pl.col("total").first().alias("given_total"),
            (pl.col("quantity") * pl.col("line_price")).sum().round(2).alias("line_total"),
            pl.col("product_id").is_not_null().any().alias("has_lines"),
        )
        .with_columns(
            pl.coalesce(pl.col("given_total"), pl.when(pl.col("has_lines")).then(pl.col("line_total"))).alias("total")
        )
    )
