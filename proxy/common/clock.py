"""UTC timestamps in one format: ISO 8601 with milliseconds and a `Z` ("2026-12-06T20:55:09.123Z").

Why one format: ledger lines, reports, run state and exports are compared and sorted as text by people,
`jq` and the kit itself; three spellings of "now" made those comparisons wrong.
"""
from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def stamp(moment: datetime | float | None = None) -> str:
    """`moment` (a datetime, epoch seconds, or now when None) as "YYYY-MM-DDTHH:MM:SS.mmmZ"."""
    if moment is None:
        moment = utc_now()
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(text: str) -> datetime:
    """A timestamp written by `stamp` (or any ISO 8601 with an offset or `Z`) back to an aware datetime;
    a naive one is taken as UTC. ValueError when it is not a timestamp."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["parse_stamp", "stamp", "utc_now"]
