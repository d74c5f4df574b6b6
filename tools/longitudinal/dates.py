"""Date handling shared by trends, kinetics and the treatment timeline.

FHIR dates may be partial (``2019``, ``2019-04``); a trend needs an instant, so partial dates are
refused with a reason rather than silently placed on the first of the month. Date-only values are
taken at midnight UTC and naive date-times as UTC, so every parsed instant is comparable.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_PARTIAL = re.compile(r"^\d{4}(-\d{2})?$")

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12  # 30.4375: the mean Gregorian month


class DateError(ValueError):
    """A date a trend cannot place on the time axis; the message says why."""


def parse_instant(value: str | None) -> datetime:
    """The instant of a FHIR date/dateTime string (timezone-aware, UTC when unspecified)."""
    if value is None or not str(value).strip():
        raise DateError("no date")
    text = str(value).strip()
    if _PARTIAL.match(text):
        raise DateError(f"partial date {text!r} is too imprecise to place on a trend")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DateError(f"date {text!r} is not an ISO date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_day(value: str | date | None) -> date:
    """The calendar day of a FHIR date/dateTime (or a `date`), for on-or-after comparisons."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return parse_instant(value).date()


def day_of(value: str) -> str:
    """``YYYY-MM-DD`` of an ISO date/dateTime string, for display."""
    return value[:10]


def months_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0 / DAYS_PER_MONTH


def years_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0 / DAYS_PER_YEAR
