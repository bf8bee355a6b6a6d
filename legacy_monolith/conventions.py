"""Legacy wire conventions: money as decimal strings, 'DD/MM/YYYY HH:MM' local times, page/total lists.

Every module formats through these helpers so the quirks are consistent — and so the ACL has exactly one
set of conventions to translate.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LEGACY_DATE_FORMAT = "%d/%m/%Y %H:%M"
SERVER_TIME_FORMAT = "%d/%m/%Y %H:%M:%S.%f"
CENT = Decimal("0.01")


def load_zone(name: str) -> ZoneInfo:
    """The legacy local time zone; a bad name fails at start-up with the fix in the message."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"LEGACY_TZ={name!r} is not a known IANA time zone; use e.g. 'Europe/London'") from exc


def to_money(value: Any) -> Decimal:
    """A Decimal rounded half-up to cents; SQLite hands numerics back as floats, so go through str()."""
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not a money amount: {value!r}") from exc


def money_str(value: Any) -> str:
    """Money as the legacy API serves it: a decimal string with two places, e.g. '12.50'."""
    return format(to_money(value), "f")


def legacy_datetime(moment: datetime, zone: ZoneInfo) -> str:
    """An aware datetime as legacy 'DD/MM/YYYY HH:MM' in the legacy zone (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(LEGACY_DATE_FORMAT)


def parse_legacy_datetime(text: str, zone: ZoneInfo) -> datetime:
    """The inverse of legacy_datetime: 'DD/MM/YYYY HH:MM' local → aware datetime."""
    return datetime.strptime(text, LEGACY_DATE_FORMAT).replace(tzinfo=zone)


def legacy_now(zone: ZoneInfo) -> str:
    return legacy_datetime(datetime.now(UTC), zone)


def server_time(zone: ZoneInfo) -> str:
    """The legacy debugging stamp on every list response; it differs on every call (a parity-noise source)."""
    return datetime.now(UTC).astimezone(zone).strftime(SERVER_TIME_FORMAT)


def sortable_key_to_legacy(key: str | None) -> str | None:
    """'YYYYMMDDHH:MM' (built in SQL to sort legacy dates) back to 'DD/MM/YYYY HH:MM'."""
    if not key:
        return None
    return f"{key[6:8]}/{key[4:6]}/{key[0:4]} {key[8:13]}"


def page_payload(plural: str, items: list[dict], page: int, page_size: int, total: int,
                 zone: ZoneInfo) -> dict[str, Any]:
    return {plural: items, "Page": page, "PageSize": page_size, "Total": total, "ServerTime": server_time(zone)}


def yn(flag: bool) -> str:
    return "Y" if flag else "N"
