"""Catalog endpoints. Coupling kept from the legacy app: availability is read straight from the
inventory module's STOCK table in hand-written SQL (and nothing else outside PRODUCTS is touched).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from legacy_monolith.catalog.models import Product
from legacy_monolith.catalog.schemas import ProductCreate, ProductQuery, ProductUpdate, product_json
from legacy_monolith.conventions import legacy_now, page_payload
from legacy_monolith.web import LegacyError, db, not_found, parse_body, parse_query, transactional, zone

bp = Blueprint("catalog", __name__, url_prefix="/api/products")

AVAILABILITY_SQL = text(
    "SELECT PROD_ID, SUM(QTY_ON_HND - QTY_RSRVD) FROM STOCK WHERE PROD_ID IN :ids GROUP BY PROD_ID"
).bindparams(bindparam("ids", expanding=True))


def availability(product_ids: list[int]) -> dict[int, int]:
    if not product_ids:
        return {}
    return {int(pid): int(avail or 0) for pid, avail in db().execute(AVAILABILITY_SQL, {"ids": product_ids})}


def _load(product_id: int) -> Product:
    product = db().get(Product, product_id)
    if product is None:
        raise not_found("PRODUCT_NOT_FOUND", "product", product_id)
    return product


def _one(product: Product) -> dict[str, Any]:
    return product_json(product, availability([product.id]).get(product.id, 0))


def _duplicate_sku(sku: str) -> LegacyError:
    return LegacyError(409, "DUPLICATE_SKU", f"a product with SKU {sku} already exists; SKUs are unique")


@bp.get("")
def list_products():
    query = parse_query(ProductQuery)
    conditions = []
    if query.category:
        conditions.append(Product.category == query.category)
    if query.active:
        conditions.append(Product.active == query.active)
    if query.q:
        pattern = f"%{query.q.lower()}%"
        conditions.append(or_(func.lower(Product.name).like(pattern), func.lower(Product.sku).like(pattern)))
    if query.min_price is not None:
        conditions.append(Product.unit_price >= query.min_price)
    if query.max_price is not None:
        conditions.append(Product.unit_price <= query.max_price)
    session = db()
    total = session.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    products = session.scalars(select(Product).where(*conditions).order_by(Product.id)
                               .limit(query.page_size).offset(query.offset)).all()
    stock = availability([p.id for p in products])
    items = [product_json(p, stock.get(p.id, 0)) for p in products]
    return page_payload("Products", items, query.page, query.page_size, total, zone())


@bp.get("/<id:product_id>")
def get_product(product_id: int):
    return _one(_load(product_id))


@bp.post("")
@transactional
def create_product():
    body = parse_body(ProductCreate)
    session = db()
    if session.scalar(select(Product.id).where(Product.sku == body.Sku)) is not None:
        raise _duplicate_sku(body.Sku)
    now = legacy_now(zone())
    product = Product(sku=body.Sku, name=body.Name, description=body.Description, category=body.Category,
                      unit_price=body.UnitPrice, active=body.Active, created=now, updated=now)
    session.add(product)
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_sku(body.Sku) from None
    return product_json(product, 0), 201


@bp.put("/<id:product_id>")
@transactional
def update_product(product_id: int):
    body = parse_body(ProductUpdate)
    product = _load(product_id)
    session = db()
    if (body.Sku is not None and body.Sku != product.sku
            and session.scalar(select(Product.id).where(Product.sku == body.Sku)) is not None):
        raise _duplicate_sku(body.Sku)
    fields = {"Sku": "sku", "Name": "name", "Description": "description", "Category": "category",
              "UnitPrice": "unit_price", "Active": "active"}
    for key in body.model_fields_set:
        value = getattr(body, key)
        if value is None and key != "Description":
            raise LegacyError(400, "VALIDATION_ERROR", f"{key}: may not be null")
        setattr(product, fields[key], value)
    product.updated = legacy_now(zone())
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_sku(str(body.Sku)) from None
    return _one(product)


@bp.post("/<id:product_id>/deactivate")
@transactional
def deactivate_product(product_id: int):
    product = _load(product_id)
    if product.active != "N":
        product.active = "N"
        product.updated = legacy_now(zone())
    return _one(product)
