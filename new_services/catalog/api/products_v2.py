"""Native catalog API: /v2/products with cursor pagination and RFC 9457 errors."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from new_services.catalog import services
from new_services.catalog.deps import RepositoryDep
from new_services.catalog.domain import (
    DomainError,
    DuplicateSku,
    ProductNotFound,
    ProductStatus,
)
from new_services.catalog.repository import ProductFilter
from new_services.catalog.schemas import (
    ProductCreate,
    ProductPublic,
    ProductsPage,
    ProductUpdate,
)
from new_services.common.pagination import decode_cursor, encode_cursor
from new_services.common.problems import Problem
from new_services.common.types import IdPath

router = APIRouter(prefix="/v2/products", tags=["products"])


def _domain_problem(exc: DomainError) -> Problem:
    return Problem(422, f"{exc.field}: {exc.reason}", code="INVALID_PRODUCT", field=exc.field)


def _not_found(exc: ProductNotFound) -> Problem:
    return Problem(404, str(exc), code="PRODUCT_NOT_FOUND")


def _duplicate(exc: DuplicateSku) -> Problem:
    return Problem(409, str(exc), code="DUPLICATE_SKU")


@router.get("", response_model=ProductsPage)
def list_products(repo: RepositoryDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  cursor: str | None = None,
                  category: Annotated[str | None, Query(max_length=10)] = None,
                  status_: Annotated[ProductStatus | None, Query(alias="status")] = None,
                  q: Annotated[str | None, Query(min_length=1, max_length=120)] = None) -> ProductsPage:
    after = decode_cursor(cursor) if cursor else None
    products = repo.page_after(ProductFilter(category=category, status=status_, text=q), after, limit + 1)
    has_more = len(products) > limit
    products = products[:limit]
    next_cursor = encode_cursor(products[-1].id) if has_more and products[-1].id is not None else None
    return ProductsPage(items=[ProductPublic.of(p) for p in products], next_cursor=next_cursor)


@router.get("/{product_id}", response_model=ProductPublic)
def get_product(product_id: IdPath, repo: RepositoryDep) -> ProductPublic:
    try:
        return ProductPublic.of(services.get_product(repo, product_id))
    except ProductNotFound as exc:
        raise _not_found(exc) from None


@router.post("", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
def create_product(body: ProductCreate, repo: RepositoryDep, response: Response) -> ProductPublic:
    try:
        product = services.create_product(repo, **body.model_dump())
    except DomainError as exc:
        raise _domain_problem(exc) from None
    except DuplicateSku as exc:
        raise _duplicate(exc) from None
    response.headers["Location"] = f"{router.prefix}/{product.id}"
    return ProductPublic.of(product)


@router.patch("/{product_id}", response_model=ProductPublic)
def update_product(product_id: IdPath, body: ProductUpdate, repo: RepositoryDep) -> ProductPublic:
    changes = body.model_dump(exclude_unset=True)
    for name in ("sku", "name", "category", "price", "currency", "status"):
        if name in changes and changes[name] is None:
            raise Problem(422, f"{name}: may not be null (only description can be cleared)",
                          code="INVALID_PRODUCT", field=name)
    if not changes:
        raise Problem(422, "send at least one field to change", code="INVALID_PRODUCT")
    try:
        return ProductPublic.of(services.update_product(repo, product_id, changes))
    except ProductNotFound as exc:
        raise _not_found(exc) from None
    except DomainError as exc:
        raise _domain_problem(exc) from None
    except DuplicateSku as exc:
        raise _duplicate(exc) from None


@router.post("/{product_id}/deactivate", response_model=ProductPublic)
def deactivate_product(product_id: IdPath, repo: RepositoryDep) -> ProductPublic:
    try:
        return ProductPublic.of(services.deactivate_product(repo, product_id))
    except ProductNotFound as exc:
        raise _not_found(exc) from None
