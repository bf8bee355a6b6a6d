"""Legacy conventions ↔ new-model types: local 'DD/MM/YYYY HH:MM' ↔ UTC, decimal money ↔ Decimal, 'Y'/'N'.

Why strict: a translator that "fixes" odd legacy values silently makes backfills lossy and parity checks
lie. Every function either returns a value that converts back to the identical legacy value, or raises
TranslationError naming the field, the value and the rule.
"""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from acl.common.errors import TranslationError

LEGACY_TS_FORMAT = "%d/%m/%Y %H:%M"
LEGACY_SERVER_TIME_FORMAT = "%d/%m/%Y %H:%M:%S.%f"
_LEGACY_TS = re.compile(r"^[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}$")
_DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,18}(\.[0-9]{1,18})?$")
CENT = Decimal("0.01")


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def legacy_ts_to_utc(value: Any, tz: str, field: str) -> datetime:
    """'DD/MM/YYYY HH:MM' wall-clock time in `tz` → aware UTC datetime.

    DST: a wall time in the autumn overlap exists twice; legacy stored no offset, so we take the first
    occurrence (summer time, fold=0) — both map back to the same legacy text. A wall time inside the spring
    gap never existed; it has no faithful UTC instant and is rejected.

    Speed (backfills convert millions of these): the UTC instant of each local 'DD/MM/YYYY HH' hour start is
    memoised per zone, and HH:MM is that start + MM minutes. Only hours with one UTC offset throughout are
    memoised; an hour a DST change touches, or any odd value, takes the exact reference path
    (`_legacy_ts_to_utc_exact`), so results and errors are the same either way.
    """
    if type(value) is str and type(tz) is str and len(value) == 16 and value[13] == ":":
        start = _HOUR_STARTS.get(tz, _NO_HOURS).get(value[:13])
        minutes = _MINUTES.get(value[14:])
        if start is not None and minutes is not None:  # a memoised hour: its text was fully checked
            return start + minutes
    if not isinstance(value, str) or not _LEGACY_TS.fullmatch(value):
        raise TranslationError(field, value, "expected a 'DD/MM/YYYY HH:MM' timestamp")
    minutes = _MINUTES.get(value[14:16])
    if type(value) is str and type(tz) is str and minutes is not None:
        start = _hour_start(value[:13], tz)
        if start is not None:
            return start + minutes
    return _legacy_ts_to_utc_exact(value, tz, field)


_MINUTES = {f"{m:02d}": timedelta(minutes=m) for m in range(60)}
_HOUR_STARTS: dict[str, dict[str, datetime | None]] = {}  # zone → 'DD/MM/YYYY HH' → UTC start (None: none)
_NO_HOURS: dict[str, datetime | None] = {}
_HOUR_STARTS_MAX = 50_000  # per zone (~6 years of hours, a few MB); cleared when full


def _hour_start(hour_text: str, tz: str) -> datetime | None:
    """UTC instant of the pattern-checked local 'DD/MM/YYYY HH':00, memoised; None when the hour is not a
    calendar hour, or when its offset is not the same at :00 and :59 for both folds — a DST change falls in it
    (a gap or an overlap). Within an hour with one offset HH:MM is exactly HH:00 + MM minutes, because no zone
    changes its offset twice within an hour (tzdata's closest transitions are days apart)."""
    hours = _HOUR_STARTS.get(tz)
    if hours is not None and hour_text in hours:
        return hours[hour_text]
    try:
        naive = datetime(int(hour_text[6:10]), int(hour_text[3:5]), int(hour_text[0:2]), int(hour_text[11:13]))
    except ValueError:
        return None  # not memoised: the exact path reports it
    first = naive.replace(tzinfo=zone(tz))
    last = first.replace(minute=59)
    offset = first.utcoffset()
    start = None
    if offset is not None and (offset == last.utcoffset() == first.replace(fold=1).utcoffset()
                               == last.replace(fold=1).utcoffset()):
        try:
            start = (naive - offset).replace(tzinfo=UTC)
        except OverflowError:  # the first/last representable hours: the exact path decides
            start = None
    if hours is None or len(hours) >= _HOUR_STARTS_MAX:
        hours = _HOUR_STARTS[tz] = {}
    hours[hour_text] = start
    return start


def _legacy_ts_to_utc_exact(value: str, tz: str, field: str) -> datetime:
    """The reference conversion (zoneinfo per value) for a pattern-checked 'DD/MM/YYYY HH:MM'."""
    try:  # the pattern fixed every position, so slicing is exact (and ~10x cheaper than strptime)
        naive = datetime(int(value[6:10]), int(value[3:5]), int(value[0:2]), int(value[11:13]), int(value[14:16]))
    except ValueError as exc:
        raise TranslationError(field, value, f"not a calendar date/time ({exc})") from None
    local_zone = zone(tz)
    instant = naive.replace(tzinfo=local_zone).astimezone(UTC)
    if instant.astimezone(local_zone).replace(tzinfo=None) != naive:
        raise TranslationError(field, value, f"wall time does not exist in {tz} (skipped by a DST change)")
    return instant


def utc_to_legacy_ts(value: datetime, tz: str, field: str = "timestamp") -> str:
    """Aware datetime → legacy local 'DD/MM/YYYY HH:MM' (seconds truncated, as legacy stores minutes)."""
    if value.tzinfo is None:
        raise TranslationError(field, value, "naive datetime; the new model stores aware UTC times")
    return _local_text(value, tz)


@lru_cache(maxsize=16_384)
def _local_text(value: datetime, tz: str) -> str:
    """Memoised: a list page formats two per product, and hot pages repeat (1.4 µs → 0.1 µs; issue 21). The text
    depends only on the instant and the zone, and equal aware datetimes are the same instant."""
    local = value.astimezone(zone(tz))
    # = strftime(LEGACY_TS_FORMAT) (glibc's %Y does not pad a year below 1000 either) at a third of its cost
    # (an f-string with format specs costs twice this)
    return "%02d/%02d/%d %02d:%02d" % (local.day, local.month, local.year, local.hour, local.minute)  # noqa: UP031


def legacy_server_time(now: datetime, tz: str) -> str:
    """The legacy 'ServerTime' debugging field: local time with microseconds."""
    return now.astimezone(zone(tz)).strftime(LEGACY_SERVER_TIME_FORMAT)


def legacy_money_to_decimal(value: Any, field: str) -> Decimal:
    """Decimal string ("12.50"), Decimal, int or float (legacy float quirk) → Decimal with 2 places."""
    if isinstance(value, bool) or value is None:
        raise TranslationError(field, value, "expected a money amount")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TranslationError(field, value, "money must be a finite number")
        exact = Decimal(repr(value))
        cents = exact.quantize(CENT)
        if abs(exact - cents) > Decimal("1e-9"):
            raise TranslationError(field, value, "more than 2 decimal places")
        return cents
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise TranslationError(field, value, "expected a decimal string such as '12.50'")
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise TranslationError(field, value, f"expected a money amount, got {type(value).__name__}")
    if not amount.is_finite():
        raise TranslationError(field, value, "money must be a finite number")
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:
        raise TranslationError(field, value, "amount too large") from None
    if cents != amount:
        raise TranslationError(field, value, "more than 2 decimal places")
    return cents


def decimal_to_legacy_money(value: Decimal) -> str:
    """Decimal → legacy decimal string with exactly two places ("12.50")."""
    return f"{value.quantize(CENT):f}"


def decimal_to_minor(value: Decimal) -> int:
    return int((value.quantize(CENT) * 100).to_integral_value())


def minor_to_decimal(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(CENT)


def flag_to_bool(value: Any, field: str) -> bool:
    """Legacy 'Y'/'N' → bool; anything else is a TranslationError."""
    if value == "Y":
        return True
    if value == "N":
        return False
    raise TranslationError(field, value, "expected flag 'Y' or 'N'")


def bool_to_flag(value: bool) -> str:
    return "Y" if value else "N"


def require_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TranslationError(field, value, "expected an integer")
    return value


def require_text(value: Any, field: str, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise TranslationError(field, value, "expected text")
    return value
