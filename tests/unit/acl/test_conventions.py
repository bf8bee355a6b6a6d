"""Legacy conventions: local timestamps across DST, money, flags."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acl.common.conventions import (
    decimal_to_legacy_money,
    decimal_to_minor,
    flag_to_bool,
    legacy_money_to_decimal,
    legacy_ts_to_utc,
    minor_to_decimal,
    utc_to_legacy_ts,
)
from acl.common.errors import TranslationError

TZ = "Europe/London"


def test_winter_and_summer_offsets() -> None:
    assert legacy_ts_to_utc("15/01/2024 10:00", TZ, "F") == datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    assert legacy_ts_to_utc("15/07/2024 10:00", TZ, "F") == datetime(2024, 7, 15, 9, 0, tzinfo=UTC)


def test_autumn_overlap_takes_first_occurrence_and_round_trips() -> None:
    instant = legacy_ts_to_utc("27/10/2024 01:30", TZ, "F")
    assert instant == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # BST, the first 01:30
    assert utc_to_legacy_ts(instant, TZ) == "27/10/2024 01:30"
    assert utc_to_legacy_ts(instant + timedelta(hours=1), TZ) == "27/10/2024 01:30"  # the second 01:30


def test_spring_gap_is_rejected_with_field_and_reason() -> None:
    with pytest.raises(TranslationError) as caught:
        legacy_ts_to_utc("31/03/2024 01:30", TZ, "CRT_DT")
    assert caught.value.field == "CRT_DT" and "does not exist" in caught.value.reason


@pytest.mark.parametrize("text", ["2024-01-15 10:00", "15/01/2024", "31/02/2024 10:00", "15/01/2024 24:00",
                                  "1/1/2024 10:00", "15/01/2024 10:00\n", "١٥/01/2024 10:00", None, 42])
def test_malformed_timestamps(text: object) -> None:
    with pytest.raises(TranslationError):
        legacy_ts_to_utc(text, TZ, "CRT_DT")


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
def test_every_existing_wall_time_round_trips(moment: datetime) -> None:
    text = moment.strftime("%d/%m/%Y %H:%M")
    try:
        instant = legacy_ts_to_utc(text, TZ, "F")
    except TranslationError as exc:
        assert "does not exist" in exc.reason
        return
    assert instant.tzinfo is UTC
    assert utc_to_legacy_ts(instant, TZ) == text


def test_naive_datetime_refused() -> None:
    with pytest.raises(TranslationError):
        utc_to_legacy_ts(datetime(2024, 1, 1), TZ)


@pytest.mark.parametrize(("raw", "expected"), [("12.50", "12.50"), ("0.99", "0.99"), (Decimal("3.1"), "3.10"),
                                               (7, "7.00"), (19.99, "19.99"), (0.1 + 0.2, "0.30")])
def test_money_in_and_out(raw: object, expected: str) -> None:
    assert decimal_to_legacy_money(legacy_money_to_decimal(raw, "UNIT_PRC")) == expected


@pytest.mark.parametrize("raw", ["12.345", "1e3", "12,50", "", " 1.00", float("nan"), float("inf"), True, None,
                                 Decimal("NaN"), 1.234, [1]])
def test_bad_money(raw: object) -> None:
    with pytest.raises(TranslationError):
        legacy_money_to_decimal(raw, "UNIT_PRC")


@given(st.integers(min_value=0, max_value=10**12))
def test_minor_units_round_trip(minor: int) -> None:
    assert decimal_to_minor(minor_to_decimal(minor)) == minor


def test_flags() -> None:
    assert flag_to_bool("Y", "F") is True and flag_to_bool("N", "F") is False
    for bad in ("y", "", None, True, "YES"):
        with pytest.raises(TranslationError):
            flag_to_bool(bad, "ACTV_FLG")


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
       st.sampled_from(["Europe/London", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam", "UTC"]))
def test_legacy_timestamp_text_is_what_strftime_writes(instant: datetime, tz: str) -> None:
    """utc_to_legacy_ts formats by hand for speed (issue 21); it must stay byte-identical to strftime, years
    below 1000 and zones with odd offsets (+05:45, -03:30, historic seconds) included."""
    from acl.common.conventions import LEGACY_TS_FORMAT, zone
    assert utc_to_legacy_ts(instant, tz) == instant.astimezone(zone(tz)).strftime(LEGACY_TS_FORMAT)
