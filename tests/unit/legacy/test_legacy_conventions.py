"""Legacy formatting rules: money strings, local 'DD/MM/YYYY HH:MM' times, the ServerTime stamp."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from legacy_monolith.conventions import (
    legacy_datetime,
    load_zone,
    money_str,
    parse_legacy_datetime,
    server_time,
    sortable_key_to_legacy,
    to_money,
)

LONDON = load_zone("Europe/London")


@pytest.mark.parametrize(("value", "expected"), [
    ("12.5", "12.50"), (12.5, "12.50"), (0.1 + 0.2, "0.30"), (Decimal("1.005"), "1.01"), (3, "3.00"),
    (Decimal("99999999.99"), "99999999.99"), ("0", "0.00"),
])
def test_money_is_a_two_place_decimal_string(value: object, expected: str) -> None:
    assert money_str(value) == expected


def test_money_rejects_non_numbers() -> None:
    with pytest.raises(ValueError, match="not a money amount"):
        to_money("twelve")


def test_legacy_datetime_is_local_time_with_dst() -> None:
    summer = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    winter = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    assert legacy_datetime(summer, LONDON) == "01/07/2024 13:00"
    assert legacy_datetime(winter, LONDON) == "15/01/2024 12:00"
    assert legacy_datetime(summer, load_zone("America/New_York")) == "01/07/2024 08:00"


def test_parse_is_the_inverse_of_format() -> None:
    moment = datetime(2023, 3, 26, 1, 30, tzinfo=UTC)  # just after the spring-forward gap
    text = legacy_datetime(moment, LONDON)
    assert text == "26/03/2023 02:30"
    assert parse_legacy_datetime(text, LONDON).astimezone(UTC) == moment
    assert legacy_datetime(parse_legacy_datetime("31/12/2022 23:59", LONDON), LONDON) == "31/12/2022 23:59"


def test_ambiguous_autumn_hour_reads_as_its_first_occurrence() -> None:
    """A legacy quirk the ACL must know: local strings lose the offset, 01:30 on the fall-back night is twice."""
    first = datetime(2023, 10, 29, 0, 30, tzinfo=UTC)
    second = datetime(2023, 10, 29, 1, 30, tzinfo=UTC)
    assert legacy_datetime(first, LONDON) == legacy_datetime(second, LONDON) == "29/10/2023 01:30"
    assert parse_legacy_datetime("29/10/2023 01:30", LONDON).astimezone(UTC) == first


def test_bad_zone_names_the_setting_and_a_fix() -> None:
    with pytest.raises(ValueError, match=r"LEGACY_TZ='Mars/Olympus'.*Europe/London"):
        load_zone("Mars/Olympus")


def test_server_time_has_microseconds_and_changes() -> None:
    first, second = server_time(LONDON), server_time(LONDON)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}\.\d{6}", first)
    assert first != second or first[-6:] == second[-6:]  # equal only if the clock did not tick


def test_sortable_key_round_trip() -> None:
    assert sortable_key_to_legacy("2024070113:05") == "01/07/2024 13:05"
    assert sortable_key_to_legacy("") is None
    assert sortable_key_to_legacy(None) is None
