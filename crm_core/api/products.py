"""Product catalogue routes: everyone with a role reads it, admins maintain it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Product
from crm_core.schemas.catalogue import ProductCreate, ProductPublic, ProductUpdate
from crm_core.schemas.common import Page, RecordId
from crm_core.services.kinds import PRODUCTS
from crm_core.services.owned_records import create_record, get_record, list_records, update_record
from crm_core.services.pagination import PageRequest

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", response_model=Page[ProductPublic], openapi_extra=policy("product", "read"))
def list_products(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    category: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    sku: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    external_id: ExternalIdFilter = None,
) -> Page[ProductPublic]:
    rows, next_cursor = list_records(
        uow,
        caller,
        PRODUCTS,
        page,
        equal_to((Product.external_id, external_id), (Product.category, category), (Product.sku, sku)),
    )
    return Page[ProductPublic](items=[ProductPublic.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{product_id}", response_model=ProductPublic, openapi_extra=policy("product", "read"))
def read_product(product_id: RecordId, uow: UoW, caller: Caller) -> ProductPublic:
    return ProductPublic.model_validate(get_record(uow, caller, PRODUCTS, product_id, Action.READ))


@router.post(
    "", response_model=ProductPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("product", "create")
)
def create_product(body: ProductCreate, uow: UoW, caller: Caller) -> ProductPublic:
    product = create_record(uow, caller, PRODUCTS, body.model_dump(), now=utc_now())
    uow.commit()
    return ProductPublic.model_validate(product)


@router.patch("/{product_id}", response_model=ProductPublic, openapi_extra=policy("product", "update"))
def update_product(product_id: RecordId, body: ProductUpdate, uow: UoW, caller: Caller) -> ProductPublic:
    product = update_record(uow, caller, PRODUCTS, product_id, body.model_dump(exclude_unset=True), now=utc_now())
    uow.commit()
    return ProductPublic.model_validate(product)
