"""The OpenAPI 3.1 contract served at /openapi.json.

Request bodies are generated from the very pydantic models that validate them; response schemas are
written out here, closed (additionalProperties: false), and checked against real responses by the tests.
"""
from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from legacy_monolith.catalog.schemas import ProductCreate, ProductUpdate
from legacy_monolith.customers.auth import LoginBody
from legacy_monolith.customers.schemas import CustomerCreate, CustomerUpdate
from legacy_monolith.inventory.schemas import (
    MAX_AVAILABILITY_IDS,
    Adjustment,
    ReservationCreate,
    UntrackedStockMove,
)
from legacy_monolith.orders.schemas import OrderCreate, StatusChange
from legacy_monolith.validation import MAX_PAGE_SIZE

REQUEST_MODELS = (ProductCreate, ProductUpdate, CustomerCreate, CustomerUpdate, Adjustment, ReservationCreate,
                  UntrackedStockMove, OrderCreate, StatusChange, LoginBody)
#: the orders endpoints need the session cookie POST /api/login sets (401 without it)
SESSION: list[dict[str, list[str]]] = [{"session": []}]
DATE = {"type": "string", "pattern": r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$", "description": "DD/MM/YYYY HH:MM, LEGACY_TZ"}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "decimal string, 2 places"}
FLAG = {"type": "string", "enum": ["Y", "N"]}
INT = {"type": "integer"}
STR = {"type": "string"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(plural: str, item: str) -> dict[str, Any]:
    return _obj(**{plural: {"type": "array", "items": _ref(item)}}, Page=INT, PageSize=INT, Total=INT,
                ServerTime={"type": "string", "pattern": r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}\.\d{6}$"})


RESPONSES: dict[str, dict[str, Any]] = {
    "Error": _obj(Success={"const": False}, ErrorCode={"type": "string", "pattern": "^[A-Z_]+$"},
                  ErrorMessage=STR),
    "Health": _obj(Status={"const": "OK"}, Service=STR, ServerTime=STR),
    "Product": _obj(ProductId=INT, Sku=STR, Name=STR, Description=_nullable(STR), Category=STR, UnitPrice=MONEY,
                    Active=FLAG, Created=DATE, Updated=DATE, Available=INT),
    "ProductList": _page("Products", "Product"),
    "Customer": _obj(CustomerId=INT, Email=STR, FirstName=STR, LastName=STR, Phone=_nullable(STR), Vip=FLAG,
                     Created=DATE),
    "CustomerList": _page("Customers", "Customer"),
    "CustomerSummary": _obj(CustomerId=INT, OrderCount=INT, TotalSpent={"type": "number"},
                            LastOrderDate=_nullable(DATE),
                            StatusCounts={"type": "object", "propertyNames": {"enum": ["N", "P", "S", "D", "C"]},
                                          "additionalProperties": INT}),
    "WarehouseStock": _obj(Warehouse=STR, OnHand=INT, Reserved={"type": "integer", "minimum": 0},
                           Available={"type": "integer", "minimum": 0}),
    "Inventory": _obj(ProductId=INT, Warehouses={"type": "array", "items": _ref("WarehouseStock")},
                      TotalAvailable={"type": "integer", "minimum": 0}),
    "ProductAvailability": _obj(ProductId=INT, TotalAvailable=INT),
    "AvailabilityList": _obj(Availability={"type": "array", "items": _ref("ProductAvailability")}),
    "Reservation": _obj(ReservationId=INT, ProductId=INT, Warehouse=STR, Quantity=INT,
                        Status={"enum": ["A", "R", "C"], "description": "A active, R released, C consumed"},
                        Reference=_nullable(STR)),
    "ReservationList": _page("Reservations", "Reservation"),
    "OrderLine": _obj(LineNo=INT, ProductId=INT, Warehouse=STR, Quantity=INT, UnitPrice=MONEY),
    "Order": _obj(OrderId=INT, CustomerId=INT, Status={"enum": ["N", "P", "S", "D", "C"]}, OrderDate=DATE,
                  Total={"type": "number"}, Lines={"type": "array", "items": _ref("OrderLine")}),
    "OrderList": _page("Orders", "Order"),
    "LoginResult": _obj(Success={"const": True}, CustomerId=INT, Email=STR),
    "LogoutResult": _obj(Success={"const": True}),
}


def _param(name: str, where: str = "query", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or STR}


PAGING = [_param("page", schema={"type": "integer", "minimum": 1}),
          _param("page_size", schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE})]


def _op(summary: str, ok: int, schema: str, errors: tuple[int, ...], body: str | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {str(ok): {"description": "OK" if ok == 200 else "Created",
                                           "content": {"application/json": {"schema": _ref(schema)}}}}
    for status in sorted({*errors, 404, 405, 503}):
        responses[str(status)] = {"description": "legacy error envelope",
                                  "content": {"application/json": {"schema": _ref("Error")}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


def _idempotent(op: dict[str, Any]) -> dict[str, Any]:
    """A create that answers 200 with the earlier result when its Reference is replayed."""
    op["responses"]["200"] = {"description": "replay of a Reference already used: the row it created",
                              "content": {"application/json": {"schema": _ref("Reservation")}}}
    return op


def _login_required(op: dict[str, Any], *extra: int) -> dict[str, Any]:
    """An operation behind the legacy session cookie: 401 without it (and `extra` statuses, e.g. 403)."""
    op["security"] = SESSION
    for status in (401, *extra):
        op["responses"][str(status)] = {"description": "legacy error envelope (log in first)" if status == 401
                                        else "legacy error envelope",
                                        "content": {"application/json": {"schema": _ref("Error")}}}
    op["responses"] = dict(sorted(op["responses"].items()))
    return op


def _id(name: str) -> list[dict[str, Any]]:
    return [_param(name, "path", INT)]


def _paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": _op("liveness and database check", 200, "Health", ())},
        "/api/products": {
            "get": _op("list products", 200, "ProductList", (400,), params=[
                *PAGING, _param("category"), _param("active", schema=FLAG), _param("q"),
                _param("min_price", schema={"type": "number"}), _param("max_price", schema={"type": "number"})]),
            "post": _op("create a product", 201, "Product", (400, 409), "ProductCreate")},
        "/api/products/{id}": {
            "get": _op("one product with availability", 200, "Product", (), params=_id("id")),
            "put": _op("update product fields", 200, "Product", (400, 409), "ProductUpdate", _id("id"))},
        "/api/products/{id}/deactivate": {"post": _op("take off sale", 200, "Product", (), params=_id("id"))},
        "/api/customers": {
            "get": _op("list customers", 200, "CustomerList", (400,), params=[
                *PAGING, _param("email"), _param("vip", schema=FLAG)]),
            "post": _op("create a customer", 201, "Customer", (400, 409), "CustomerCreate")},
        "/api/customers/{id}": {
            "get": _op("one customer", 200, "Customer", (), params=_id("id")),
            "put": _op("update customer fields", 200, "Customer", (400, 409), "CustomerUpdate", _id("id"))},
        "/api/customers/{id}/summary": {
            "get": _op("order statistics of a customer", 200, "CustomerSummary", (), params=_id("id"))},
        "/api/inventory/{product_id}": {
            "get": _op("stock per warehouse", 200, "Inventory", (), params=_id("product_id"))},
        "/api/inventory/availability": {
            "get": _op(f"total available units of up to {MAX_AVAILABILITY_IDS} products at once (0 without stock "
                       "rows); added for the catalog service's reads", 200, "AvailabilityList", (400,),
                       params=[{**_param("ids", schema={"type": "string", "pattern": r"^\d+(,\d+)*$"}),
                                "required": True, "description": f"comma-separated ProductIds, 1 to "
                                                                 f"{MAX_AVAILABILITY_IDS}"}])},
        "/api/inventory/{product_id}/adjust": {
            "post": _op("change on-hand stock", 200, "Inventory", (400, 409, 422), "Adjustment",
                        _id("product_id"))},
        "/api/inventory/{product_id}/release": {
            "post": _idempotent(_op("release units reserved without a reservation row (legacy orders); "
                                    "idempotent by Reference", 201, "Reservation", (400, 409, 422),
                                    "UntrackedStockMove", _id("product_id")))},
        "/api/inventory/{product_id}/consume-untracked": {
            "post": _idempotent(_op("ship units reserved without a reservation row (legacy orders); "
                                    "idempotent by Reference", 201, "Reservation", (400, 409, 422),
                                    "UntrackedStockMove", _id("product_id")))},
        "/api/inventory/reservations": {
            "get": _op("find reservations (e.g. by the Reference a lost answer was for)", 200, "ReservationList",
                       (400,), params=[*PAGING, _param("reference"), _param("product_id", schema=INT),
                                       _param("status", schema={"enum": ["A", "R", "C"]})]),
            "post": _idempotent(_op("reserve stock; idempotent by the optional Reference", 201, "Reservation",
                                    (400, 409, 422), "ReservationCreate"))},
        "/api/inventory/reservations/{id}/release": {
            "post": _op("release a reservation", 200, "Reservation", (409,), params=_id("id"))},
        "/api/inventory/reservations/{id}/consume": {
            "post": _op("consume a reservation on shipping (only from A)", 200, "Reservation", (409,),
                        params=_id("id"))},
        "/api/login": {"post": _op("log in: sets the session cookie the orders endpoints need", 200,
                                   "LoginResult", (400, 401), "LoginBody")},
        "/api/logout": {"post": {"summary": "log out: clears the session", "responses": {"200": {
            "description": "OK", "content": {"application/json": {"schema": _ref("LogoutResult")}}}}}},
        "/api/orders": {
            "get": _login_required(_op("list orders with lines", 200, "OrderList", (400,), params=[
                *PAGING, _param("customer_id", schema=INT), _param("status")])),
            "post": _login_required(_op("place an order for the logged-in customer (reserves stock)", 201,
                                        "Order", (400, 409, 422), "OrderCreate"), 403)},
        "/api/orders/{id}": {"get": _login_required(_op("one order", 200, "Order", (), params=_id("id")))},
        "/api/orders/{id}/cancel": {
            "post": _login_required(_op("cancel a new or paid order", 200, "Order", (409,), params=_id("id")))},
        "/api/orders/{id}/status": {
            "post": _login_required(_op("advance N→P→S→D", 200, "Order", (400, 409), "StatusChange",
                                        _id("id")))},
        "/openapi.json": {"get": {"summary": "this contract", "responses": {"200": {"description": "OK"}}}},
    }


def build_openapi() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in REQUEST_MODELS],
                                 ref_template="#/components/schemas/{model}")
    schemas = {**defs.get("$defs", {}), **RESPONSES}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Legacy monolith API", "version": "1.0.0",
                 "description": "The demo legacy app: PascalCase JSON, money as decimal strings (ORD_TOT as "
                                "float), 'DD/MM/YYYY HH:MM' local times, page/total lists, legacy error envelope."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": _paths(),
        "components": {"schemas": schemas, "securitySchemes": {"session": {
            "type": "apiKey", "in": "cookie", "name": "session",
            "description": "Flask session cookie set by POST /api/login"}}},
    }
