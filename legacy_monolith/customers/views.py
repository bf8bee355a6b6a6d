"""Customer endpoints. Coupling kept from the legacy app: the summary aggregates the orders module's
ORDERS table in hand-written SQL.
"""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from legacy_monolith.conventions import legacy_now, page_payload, sortable_key_to_legacy
from legacy_monolith.customers.models import Customer
from legacy_monolith.customers.schemas import CustomerCreate, CustomerQuery, CustomerUpdate, customer_json
from legacy_monolith.web import LegacyError, db, not_found, parse_body, parse_query, transactional, zone

bp = Blueprint("customers", __name__, url_prefix="/api/customers")

# ORD_DT is 'DD/MM/YYYY HH:MM', which does not sort; the legacy report rebuilds a sortable key in SQL.
SUMMARY_SQL = text(
    "SELECT ORD_STS, COUNT(*), SUM(ORD_TOT), "
    "MAX(SUBSTR(ORD_DT, 7, 4) || SUBSTR(ORD_DT, 4, 2) || SUBSTR(ORD_DT, 1, 2) || SUBSTR(ORD_DT, 12, 5)) "
    "FROM ORDERS WHERE CUST_ID = :cust_id GROUP BY ORD_STS"
)


def _load(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        raise not_found("CUSTOMER_NOT_FOUND", "customer", customer_id)
    return customer


def _duplicate_email(email: str) -> LegacyError:
    return LegacyError(409, "DUPLICATE_EMAIL", f"a customer with email {email} already exists")


@bp.get("")
def list_customers():
    query = parse_query(CustomerQuery)
    conditions = []
    if query.email:
        conditions.append(func.lower(Customer.email) == query.email.lower())
    if query.vip:
        conditions.append(Customer.vip == query.vip)
    session = db()
    total = session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
    customers = session.scalars(select(Customer).where(*conditions).order_by(Customer.id)
                                .limit(query.page_size).offset(query.offset)).all()
    return page_payload("Customers", [customer_json(c) for c in customers], query.page, query.page_size,
                        total, zone())


@bp.get("/<id:customer_id>")
def get_customer(customer_id: int):
    return customer_json(_load(customer_id))


@bp.get("/<id:customer_id>/summary")
def customer_summary(customer_id: int):
    _load(customer_id)
    status_counts: dict[str, int] = {}
    spent, last_key = 0.0, ""
    for status, count, total, date_key in db().execute(SUMMARY_SQL, {"cust_id": customer_id}):
        status_counts[status] = int(count)
        if status != "C":  # cancelled orders are not money spent
            spent += float(total or 0.0)
        last_key = max(last_key, date_key or "")
    return {
        "CustomerId": customer_id,
        "OrderCount": sum(status_counts.values()),
        "TotalSpent": round(spent, 2),
        "LastOrderDate": sortable_key_to_legacy(last_key),
        "StatusCounts": status_counts,
    }


@bp.post("")
@transactional
def create_customer():
    body = parse_body(CustomerCreate)
    session = db()
    if session.scalar(select(Customer.id).where(Customer.email == body.Email)) is not None:
        raise _duplicate_email(body.Email)
    customer = Customer(email=body.Email, first_name=body.FirstName, last_name=body.LastName,
                        phone=body.Phone, vip=body.Vip, created=legacy_now(zone()),
                        password_hash=generate_password_hash(body.Password) if body.Password else None)
    session.add(customer)
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_email(body.Email) from None
    return customer_json(customer), 201


@bp.put("/<id:customer_id>")
@transactional
def update_customer(customer_id: int):
    body = parse_body(CustomerUpdate)
    customer = _load(customer_id)
    session = db()
    if (body.Email is not None and body.Email != customer.email
            and session.scalar(select(Customer.id).where(Customer.email == body.Email)) is not None):
        raise _duplicate_email(body.Email)
    fields = {"Email": "email", "FirstName": "first_name", "LastName": "last_name", "Phone": "phone",
              "Vip": "vip"}
    for key in body.model_fields_set:
        value = getattr(body, key)
        if value is None and key != "Phone":
            raise LegacyError(400, "VALIDATION_ERROR", f"{key}: may not be null")
        setattr(customer, fields[key], value)
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_email(str(body.Email)) from None
    return customer_json(customer)
