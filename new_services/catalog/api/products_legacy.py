"""Legacy-compatible catalog endpoints (/api/products...): the monolith's contract, served from the
catalog domain through acl/catalog. Same filters, paging, bodies, status codes and error envelope.

Available: inventory stays in the monolith, so availability comes from the legacy inventory API through
the AvailabilitySource port: one batched call per answer; the reads (list, get) may serve it from a cache a
few seconds old (CATALOG_AVAILABILITY_TTL_S), answers to writes read it fresh. When it cannot be read the
answer is 503 INVENTORY_UNAVAILABLE — never a guessed number.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from acl.catalog.legacy_requests import (
    ProductCreateBody,
    ProductListQuery,
    ProductUpdateBody,
    domain_error,
)
from acl.catalog.translate import product_to_json
from acl.common.conventions import legacy_server_time
from acl.common.envelope import (
    LegacyApiError,
    RawBodyDep,
    envelope,
    first_values,
    is_legacy_path,
    legacy_id,
    not_found,
    parse_json_body,
    parse_query,
)
from new_services.catalog import services
from new_services.catalog.deps import AvailabilityDep, SettingsDep
from new_services.catalog.domain import (
    DomainError,
    DuplicateSku,
    Product,
    ProductNotFound,
)
from new_services.catalog.ports import AvailabilitySource, AvailabilityUnavailable
from new_services.catalog.repository import ProductRepository
from new_services.common.deps import in_session
from new_services.common.problems import problem_response
from new_services.common.responses import FastJSONResponse

PREFIX = "/api/products"
router = APIRouter(prefix=PREFIX, tags=["legacy-compatible"])


def _duplicate(sku: str) -> LegacyApiError:
    return LegacyApiError(409, "DUPLICATE_SKU", f"a product with SKU {sku} already exists; SKUs are unique")


def _load(repo: ProductRepository, product_id: int) -> Product:
    try:
        return services.get_product(repo, product_id)
    except ProductNotFound:
        raise not_found("PRODUCT_NOT_FOUND", "product", product_id) from None


def _one(product: Product, availability: AvailabilitySource, tz: str, *, fresh: bool) -> dict[str, Any]:
    assert product.id is not None
    return product_to_json(product, availability.available([product.id], fresh=fresh).get(product.id, 0), tz)


# The reads answer directly (FastJSONResponse: orjson): their bodies are JSON-ready already (product_to_json),
# and FastAPI's jsonable_encoder walk over a 50-product page was a measurable part of the list's CPU. Same
# bytes. They are `async def` handing all their blocking work (queries, a missed availability read) to one
# pool thread with in_session: a sync handler with a session dependency took three thread hops (issue 21).
@router.get("", response_class=FastJSONResponse)
async def list_products(request: Request, availability: AvailabilityDep,
                        settings: SettingsDep) -> FastJSONResponse:
    query = parse_query(first_values(request), ProductListQuery)
    criteria = query.to_filter()

    def page(session: Session) -> FastJSONResponse:
        repo = ProductRepository(session, id_start=settings.id_start)
        total = repo.count(criteria)
        products = repo.page_by_offset(criteria, query.offset, query.page_size)
        stock = availability.available([p.id for p in products if p.id is not None])
        items = [product_to_json(p, stock.get(p.id or 0, 0), settings.legacy_tz) for p in products]
        return FastJSONResponse({"Products": items, "Page": query.page, "PageSize": query.page_size,
                                 "Total": total,
                                 "ServerTime": legacy_server_time(datetime.now(UTC), settings.legacy_tz)})

    return await in_session(request, page)


@router.get("/{product_id}", response_class=FastJSONResponse)
async def get_product(product_id: str, request: Request, availability: AvailabilityDep,
                      settings: SettingsDep) -> FastJSONResponse:
    ident = legacy_id(request, product_id)

    def one(session: Session) -> FastJSONResponse:
        product = _load(ProductRepository(session, id_start=settings.id_start), ident)
        return FastJSONResponse(_one(product, availability, settings.legacy_tz, fresh=False))

    return await in_session(request, one)


# The writes too run in one pool thread with in_session: a dry run's connection is then taken by the thread
# that uses it and rolled back there, before the answer is serialised — never held by a request waiting for a
# second thread (with a session dependency, it took it in one thread and the handler waited for another).
@router.post("", status_code=201)
async def create_product(body: RawBodyDep, request: Request, settings: SettingsDep) -> dict[str, Any]:
    command = parse_json_body(body, ProductCreateBody)

    def create(session: Session) -> dict[str, Any]:
        try:
            product = services.create_product(ProductRepository(session, id_start=settings.id_start),
                                               **command.to_domain())
        except DomainError as exc:
            raise domain_error(exc) from None
        except DuplicateSku:
            raise _duplicate(command.Sku) from None
        return product_to_json(product, 0, settings.legacy_tz)  # a new product has no stock rows yet

    return await in_session(request, create)


@router.put("/{product_id}")
async def update_product(product_id: str, request: Request, body: RawBodyDep, availability: AvailabilityDep,
                         settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, product_id)
    command = parse_json_body(body, ProductUpdateBody)
    changes = command.to_domain_changes()

    def update(session: Session) -> dict[str, Any]:
        repo = ProductRepository(session, id_start=settings.id_start)
        _load(repo, ident)
        try:
            product = services.update_product(repo, ident, changes)
        except DomainError as exc:
            raise domain_error(exc) from None
        except DuplicateSku as exc:
            raise _duplicate(exc.sku) from None
        return _one(product, availability, settings.legacy_tz, fresh=True)

    return await in_session(request, update)


@router.post("/{product_id}/deactivate")
async def deactivate_product(product_id: str, request: Request, availability: AvailabilityDep,
                             settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, product_id)

    def deactivate(session: Session) -> dict[str, Any]:
        try:
            product = services.deactivate_product(ProductRepository(session, id_start=settings.id_start), ident)
        except ProductNotFound:
            raise not_found("PRODUCT_NOT_FOUND", "product", ident) from None
        return _one(product, availability, settings.legacy_tz, fresh=True)

    return await in_session(request, deactivate)


# --- errors in the legacy envelope ------------------------------------------------------------------------

async def on_availability_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AvailabilityUnavailable)
    message = f"stock availability could not be read from the inventory system; retry shortly ({exc})"
    if is_legacy_path(request.url.path):
        return JSONResponse(envelope("INVENTORY_UNAVAILABLE", message), status_code=503)
    return problem_response(503, message, code="INVENTORY_UNAVAILABLE")
