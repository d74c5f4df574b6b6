"""One FHIR date type: a date, dateTime or instant as written, with the precision it has.

FHIR dates may be partial (``2019``, ``2019-04``), a bare day (``2019-04-03``) or a moment with a
zone (``2019-04-03T10:00:00+02:00``). Reading them as strings (``value[:10]``) or forcing them onto
`datetime` (inventing the first of a month) either loses precision or makes it up, so every tool
reads them through `FhirDate`, which keeps the source text and says what it can honestly tell:

* `precision` — year, month, day, second or subsecond;
* `interval` — the ``[start, end)`` instants the value may denote (a partial date is a whole year
  or month);
* `instant` — one instant, only for day precision or finer (partial dates raise `FhirDateError`);
* `day` / `iso_day` — the calendar day as written (None for partial dates) and its display text;
* `day_range` — the calendar days it may fall on anywhere (a time with a zone can be the
  neighbouring day elsewhere);
* `surely_before` / `surely_after` — an order that is only claimed when every reading agrees.

Validation uses the FHIR R4 regular expressions (the dateTime one covers date and instant), with
one tolerance: a time without a zone is read as UTC. FHIR says such a time SHALL carry a zone,
but the R5 regex leaves it optional and case files and DICOM-derived dates are written without
one; records themselves are already validated by `fhir.resources`, which refuses them.

`FhirDate` is also a pydantic type: a field annotated with it validates from the source string
and serialises back to that exact string, so a model can hold one without changing its JSON.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# The FHIR R4 (4.0.1) regular expressions, verbatim from the datatypes page.
FHIR_DATE_REGEX = (
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
)
FHIR_DATETIME_REGEX = (
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)
FHIR_INSTANT_REGEX = (
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
# What `FhirDate` accepts: the dateTime regex with the zone of a time made optional (see above).
ACCEPTED_REGEX = FHIR_DATETIME_REGEX.replace("14:00)))?)?)?", "14:00))?)?)?)?")
_ACCEPTED = re.compile(ACCEPTED_REGEX)
# Once a text is accepted, this splits it into its parts.
_PARTS = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})(?:T(?P<hour>\d{2}):(?P<minute>\d{2}):"
    r"(?P<second>\d{2})(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_SHOWN = 40  # characters of a refused text quoted in an error


class FhirDateError(ValueError):
    """A text that is not a FHIR date, or a value too imprecise for what was asked of it."""


class Precision(StrEnum):
    """How much of a FHIR date was written, coarsest first."""

    year = "year"
    month = "month"
    day = "day"
    second = "second"
    subsecond = "subsecond"

    @property
    def rank(self) -> int:
        return list(Precision).index(self)


@dataclass(frozen=True, slots=True)
class FhirDate:
    """A FHIR date/dateTime/instant: the source text plus what it denotes (see the module doc).

    Equality is equality of the written text; there is no ``<``, because two values at different
    precisions often have no honest order — use `surely_before`.
    """

    text: str
    precision: Precision
    start: datetime  # the first moment denoted, as written: naive unless the text has a zone
    fraction_digits: int = 0

    @classmethod
    def parse(cls, text: str) -> FhirDate:
        """Parse a FHIR date, dateTime or instant; `FhirDateError` names what is wrong."""
        if not isinstance(text, str):
            raise FhirDateError(f"a FHIR date is a string, not {type(text).__name__}")
        if not _ACCEPTED.fullmatch(text):
            raise FhirDateError(f"{_quoted(text)} is not a FHIR date, dateTime or instant")
        parts = _PARTS.fullmatch(text)
        assert parts is not None  # every accepted text has these parts
        year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
        try:
            start = datetime(year, month, day)
        except ValueError:
            raise FhirDateError(f"{_quoted(text)} is not a calendar day") from None
        if parts["day"] is None:
            return cls(text, Precision.month if parts["month"] else Precision.year, start)
        if parts["hour"] is None:
            return cls(text, Precision.day, start)
        second = int(parts["second"])
        fraction = parts["fraction"] or ""
        start = start.replace(
            hour=int(parts["hour"]),
            minute=int(parts["minute"]),
            second=min(second, 59),  # Python has no leap second: 23:59:60 is read as 23:59:59
            microsecond=int(fraction[:6].ljust(6, "0")),
        )
        if parts["zone"]:
            start = start.replace(tzinfo=_zone(parts["zone"]))
        precision = Precision.subsecond if fraction else Precision.second
        return cls(text, precision, start, len(fraction))

    @classmethod
    def try_parse(cls, value: object) -> FhirDate | None:
        """The value as a `FhirDate`, or None when it is not one (for lenient readers)."""
        if isinstance(value, FhirDate):
            return value
        if not isinstance(value, str):
            return None
        try:
            return cls.parse(value)
        except FhirDateError:
            return None

    def __str__(self) -> str:
        return self.text

    @property
    def is_partial(self) -> bool:
        """Only a year or a month: no calendar day, no instant."""
        return self.precision.rank < Precision.day.rank

    @property
    def has_time(self) -> bool:
        return self.precision.rank >= Precision.second.rank

    @property
    def zoned(self) -> bool:
        """True when the text carries a zone (``Z`` or an offset); dates never do."""
        return self.start.tzinfo is not None

    @property
    def day(self) -> date | None:
        """The calendar day as written (in the value's own zone), or None for a partial date."""
        return None if self.is_partial else self.start.date()

    @property
    def iso_day(self) -> str:
        """The date part as written, at its precision: ``2019``, ``2019-04`` or ``2019-04-03``."""
        if self.precision == Precision.year:
            return f"{self.start.year:04d}"
        if self.precision == Precision.month:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return self.start.date().isoformat()

    @property
    def first_day(self) -> date:
        """The first calendar day denoted, as written (1 January for ``2019``)."""
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last calendar day denoted, as written (31 December for ``2019``)."""
        if self.precision == Precision.year:
            return date(self.start.year, 12, 31)
        if self.precision == Precision.month:
            return self.start.date().replace(day=monthrange(self.start.year, self.start.month)[1])
        return self.start.date()

    @property
    def day_range(self) -> tuple[date, date]:
        """The calendar days the value may fall on anywhere, inclusive.

        A date (or partial date) is the days written: it has no zone and is read where it was
        recorded. A value with a time names a moment that is the day before or after elsewhere,
        so its range is widened by a day on each side.
        """
        if self.has_time:
            return _clamped_day(self.first_day, -1), _clamped_day(self.last_day, 1)
        return self.first_day, self.last_day

    @property
    def interval(self) -> tuple[datetime, datetime]:
        """The ``[start, end)`` instants denoted, timezone-aware; a value without a zone is read as UTC."""
        start = self.start if self.zoned else self.start.replace(tzinfo=UTC)
        if self.precision == Precision.year:
            end = _clamped(lambda: start.replace(year=start.year + 1))
        elif self.precision == Precision.month:
            end = _clamped(lambda: datetime.combine(_next_month(start.date()), start.timetz()))
        else:
            end = _clamped(lambda: start + _WIDTH.get(self.precision, _subsecond(self.fraction_digits)))
        return start, end

    @property
    def instant(self) -> datetime:
        """The instant denoted, timezone-aware: a day is taken at midnight UTC, a time without a
        zone as UTC. A partial date has no instant (placing it on the 1st would invent precision)."""
        if self.is_partial:
            precision = self.precision.value
            raise FhirDateError(f"partial date {self.text!r} has no instant ({precision} precision)")
        return self.interval[0]

    def surely_before(self, other: FhirDate) -> bool:
        """True only when every reading of this value is before every reading of `other`.

        Two values with times compare as instants. Otherwise the comparison is of calendar days as
        written, at the precision both have: ``2019`` is not surely before ``2019-04-03``, but
        ``2018-12`` is surely before ``2019``; a dateTime counts on the day it was written (a date
        has no zone, so it is read in the zone of the value it is compared with). This is a strict
        order (transitive too, unless a chain mixes zones more than a day apart, +13:00 and
        -12:00: the written calendars of such zones overlap by more than a day).
        """
        if self.has_time and other.has_time:
            return self.interval[1] <= other.interval[0]
        return self.last_day < other.first_day

    def surely_after(self, other: FhirDate) -> bool:
        return other.surely_before(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate from the source text (or an existing `FhirDate`); serialise back to that text."""
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(cls.parse, core_schema.str_schema()),
            python_schema=core_schema.no_info_plain_validator_function(cls._from_python),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def _from_python(cls, value: object) -> FhirDate:
        return value if isinstance(value, FhirDate) else cls.parse(value)  # type: ignore[arg-type]

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": f"^{ACCEPTED_REGEX}$", "description": "FHIR date/dateTime"}


def iso_day(text: str) -> str:
    """The date part of a FHIR date text (`FhirDate.iso_day`), for display and same-day grouping.

    This is what ``text[:10]`` was meant to be. A text that is not a FHIR date is returned as
    written: there is no date part to cut out of it honestly.
    """
    parsed = FhirDate.try_parse(text)
    return parsed.iso_day if parsed else text


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


_WIDTH = {Precision.day: timedelta(days=1), Precision.second: timedelta(seconds=1)}


def _subsecond(digits: int) -> timedelta:
    """The width of a time written to `digits` fractional digits (at least Python's microsecond)."""
    return timedelta(microseconds=10 ** (6 - min(digits, 6)))


def _clamped(compute: Callable[[], datetime]) -> datetime:
    """An interval end, or the last representable instant when it lies past year 9999."""
    try:
        return compute()
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


def _clamped_day(day: date, days: int) -> date:
    """`day` moved by `days`, kept within the calendar Python can represent (years 1-9999)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")
