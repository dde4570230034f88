"""Placing orders: prices come from the catalogue at order time and the total is computed."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from crm_core.auth.principal import Principal
from crm_core.clock import stamped
from crm_core.entities import Order, OrderLine, Product
from crm_core.errors import ValidationFailedError
from crm_core.services.kinds import ORDERS
from crm_core.services.owned_records import create_record
from crm_core.unit_of_work import UnitOfWork

CENT = Decimal("0.01")


def place_order(
    uow: UnitOfWork,
    principal: Principal,
    contact_id: int,
    lines: list[dict[str, Any]],
    values: dict[str, Any],
    *,
    now: datetime,
) -> Order:
    wanted = {line["product_id"] for line in lines}
    prices = dict(
        uow.session.execute(select(Product.id, Product.unit_price).where(Product.id.in_(wanted))).tuples().all()
    )
    for index, line in enumerate(lines):
        if line["product_id"] not in prices:
            raise ValidationFailedError(f"lines.{index}.product_id", f"{line['product_id']} is not a product")
    ordered_at = stamped(values.get("ordered_at"), now, "ordered_at")
    total = sum((prices[line["product_id"]] * line["quantity"] for line in lines), Decimal(0))
    total = total.quantize(CENT, ROUND_HALF_UP)  # a measured quantity prices to fractions of a cent
    order: Order = create_record(
        uow,
        principal,
        ORDERS,
        {
            "contact_id": contact_id,
            "status": values["status"],
            "ordered_at": ordered_at,
            "total": total,
            "external_id": values.get("external_id"),
        },
        now=now,
    )
    uow.session.add_all(
        OrderLine(
            order_id=order.id,
            product_id=line["product_id"],
            quantity=line["quantity"],
            unit_price=prices[line["product_id"]],
        )
        for line in lines
    )
    uow.session.flush()
    return order


def order_lines(uow: UnitOfWork, order_id: int) -> list[OrderLine]:
    """Lines of an order the caller has already been allowed to read."""
    return list(uow.session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))
