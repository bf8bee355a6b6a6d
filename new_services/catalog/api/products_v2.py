"""Native catalog API: /v2/products with cursor pagination and RFC 9457 errors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from new_services.catalog import services
from new_services.catalog.domain import (
    DomainError,
    DuplicateSku,
    Product,
    ProductNotFound,
    ProductStatus,
)
from new_services.catalog.repository import ProductFilter, ProductRepository
from new_services.catalog.schemas import (
    ProductCreate,
    ProductPublic,
    ProductsPage,
    ProductUpdate,
)
from new_services.common.deps import in_session
from new_services.common.pagination import decode_cursor, encode_cursor
from new_services.common.problems import Problem
from new_services.common.types import IdPath

router = APIRouter(prefix="/v2/products", tags=["products"])


async def _with_repository[T](request: Request, work: Callable[[ProductRepository], T]) -> T:
    """`work` on one pool thread with this request's repository, its session opened, used and closed (a dry run
    rolled back) in that thread (in_session): a sync handler with a session dependency held a dry run's
    connection in a request that waited for a second thread."""
    id_start = request.app.state.settings.id_start
    return await in_session(request, lambda session: work(ProductRepository(session, id_start=id_start)))


def _domain_problem(exc: DomainError) -> Problem:
    return Problem(422, f"{exc.field}: {exc.reason}", code="INVALID_PRODUCT", field=exc.field)


def _not_found(exc: ProductNotFound) -> Problem:
    return Problem(404, str(exc), code="PRODUCT_NOT_FOUND")


def _duplicate(exc: DuplicateSku) -> Problem:
    return Problem(409, str(exc), code="DUPLICATE_SKU")


@router.get("", response_model=ProductsPage)
async def list_products(request: Request,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  cursor: str | None = None,
                  category: Annotated[str | None, Query(max_length=10)] = None,
                  status_: Annotated[ProductStatus | None, Query(alias="status")] = None,
                  q: Annotated[str | None, Query(min_length=1, max_length=120)] = None) -> ProductsPage:
    after = decode_cursor(cursor) if cursor else None

    def page(repo: ProductRepository) -> ProductsPage:
        products = repo.page_after(ProductFilter(category=category, status=status_, text=q), after, limit + 1)
        has_more = len(products) > limit
        products = products[:limit]
        next_cursor = encode_cursor(products[-1].id) if has_more and products[-1].id is not None else None
        return ProductsPage(items=[ProductPublic.of(p) for p in products], next_cursor=next_cursor)

    return await _with_repository(request, page)


@router.get("/{product_id}", response_model=ProductPublic)
async def get_product(product_id: IdPath, request: Request) -> ProductPublic:
    return await _one_product(request, services.get_product, product_id)


async def _one_product(request: Request, action: Callable[[ProductRepository, int], Product],
                       product_id: int) -> ProductPublic:
    def run(repo: ProductRepository) -> ProductPublic:
        try:
            return ProductPublic.of(action(repo, product_id))
        except ProductNotFound as exc:
            raise _not_found(exc) from None

    return await _with_repository(request, run)


@router.post("", response_model=ProductPublic, status_code=status.HTTP_201_CREATED)
async def create_product(body: ProductCreate, request: Request, response: Response) -> ProductPublic:
    def create(repo: ProductRepository) -> ProductPublic:
        try:
            return ProductPublic.of(services.create_product(repo, **body.model_dump()))
        except DomainError as exc:
            raise _domain_problem(exc) from None
        except DuplicateSku as exc:
            raise _duplicate(exc) from None

    product = await _with_repository(request, create)
    response.headers["Location"] = f"{router.prefix}/{product.id}"
    return product


@router.patch("/{product_id}", response_model=ProductPublic)
async def update_product(product_id: IdPath, body: ProductUpdate, request: Request) -> ProductPublic:
    changes = body.model_dump(exclude_unset=True)
    for name in ("sku", "name", "category", "price", "currency", "status"):
        if name in changes and changes[name] is None:
            raise Problem(422, f"{name}: may not be null (only description can be cleared)",
                          code="INVALID_PRODUCT", field=name)
    if not changes:
        raise Problem(422, "send at least one field to change", code="INVALID_PRODUCT")

    def update(repo: ProductRepository) -> ProductPublic:
        try:
            return ProductPublic.of(services.update_product(repo, product_id, changes))
        except ProductNotFound as exc:
            raise _not_found(exc) from None
        except DomainError as exc:
            raise _domain_problem(exc) from None
        except DuplicateSku as exc:
            raise _duplicate(exc) from None

    return await _with_repository(request, update)


@router.post("/{product_id}/deactivate", response_model=ProductPublic)
async def deactivate_product(product_id: IdPath, request: Request) -> ProductPublic:
    return await _one_product(request, services.deactivate_product, product_id)
