"""Date handling shared by trends, kinetics and the treatment timeline.

Dates are read with the vocabulary's `FhirDate`; this module adds what a time axis needs. FHIR
dates may be partial (``2019``, ``2019-04``); a trend needs an instant, so partial dates are
refused with a reason rather than silently placed on the first of the month. Date-only values are
taken at midnight UTC and date-times without a zone as UTC, so every parsed instant is comparable.
"""

from __future__ import annotations

from datetime import date, datetime

from medboard.models import FhirDate, FhirDateError

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12  # 30.4375: the mean Gregorian month


class DateError(ValueError):
    """A date a trend cannot place on the time axis; the message says why."""


def fhir_date(value: str | None) -> FhirDate:
    """A day-or-finer `FhirDate` for the time axis; `DateError` (with a trend's reason) otherwise."""
    if value is None or not str(value).strip():
        raise DateError("no date")
    text = str(value).strip()
    try:
        parsed = FhirDate.parse(text)
    except FhirDateError:
        raise DateError(f"date {text!r} is not an ISO date or date-time") from None
    if parsed.is_partial:
        raise DateError(f"partial date {text!r} is too imprecise to place on a trend")
    return parsed


def parse_instant(value: str | None) -> datetime:
    """The instant of a FHIR date/dateTime string (timezone-aware, UTC when unspecified)."""
    return fhir_date(value).instant


def parse_day(value: str | date | None) -> date:
    """The calendar day of a FHIR date/dateTime (or a `date`), for on-or-after comparisons."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    day = fhir_date(value).day
    assert day is not None  # fhir_date refuses partial dates
    return day


def months_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0 / DAYS_PER_MONTH


def years_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400.0 / DAYS_PER_YEAR
