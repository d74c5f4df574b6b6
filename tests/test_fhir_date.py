"""`FhirDate`, the one FHIR date type: every date in the shared records, partial dates, zones,
refusals, intervals and the honest order at mixed precision."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from medboard.models import FhirDate, FhirDateError, Precision, iso_day
from medboard.models.dates import ACCEPTED_REGEX, FHIR_DATE_REGEX, FHIR_DATETIME_REGEX, FHIR_INSTANT_REGEX
from medboard.tools.checks.evidence import parse_fhir_date, to_date
from medboard.tools.longitudinal.dates import DateError, parse_day, parse_instant

SHARED_FHIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fhir"

# FHIR R4 elements of type date, dateTime or instant that occur under these names (choice types
# end in DateTime/Date/Instant); `code`, `postalCode` and the like look like years but are not dates.
_DATE_ELEMENTS = {
    "date",
    "issued",
    "start",
    "end",
    "created",
    "authoredOn",
    "recorded",
    "started",
    "time",
    "receivedTime",
    "lastUpdated",
    "birthDate",
    "event",
    "instant",
}


def _is_date_element(key: str) -> bool:
    return key in _DATE_ELEMENTS or key.endswith(("Date", "DateTime", "Instant"))


def _date_values(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from _date_values(child, child_key)
    elif isinstance(value, list):
        for child in value:
            yield from _date_values(child, key)
    elif isinstance(value, str) and _is_date_element(key):
        yield value


@pytest.fixture(scope="module")
def shared_dates() -> list[str]:
    if not SHARED_FHIR.is_dir():
        pytest.skip("shared FHIR data not present")
    values = [
        text
        for path in sorted(SHARED_FHIR.rglob("*.json"))
        for text in _date_values(json.loads(path.read_text()))
    ]
    assert len(values) > 1000  # the mCODE and Synthea bundles together
    return values


def test_every_date_in_the_shared_records_parses(shared_dates: list[str]) -> None:
    parsed = [FhirDate.parse(text) for text in shared_dates]
    precisions = Counter(d.precision.value for d in parsed)
    print(f"\n{len(parsed)} FHIR dates in the shared records, by precision: {dict(precisions)}")
    assert precisions[Precision.day] and precisions[Precision.second] and precisions[Precision.subsecond]
    for d in parsed:
        assert d.text == str(d)
        assert d.interval[0] < d.interval[1]
        assert d.day_range[0] <= d.first_day <= d.last_day <= d.day_range[1]


def test_shared_dates_read_as_the_replaced_parsers_read_them(shared_dates: list[str]) -> None:
    """The restructure changed no reading: display day, trend instant, checker interval."""
    for text in shared_dates:
        d = FhirDate.parse(text)
        assert iso_day(text) == text[:10]  # what the 23 slices did
        assert d.day_range == parse_fhir_date(text)  # the verifier's interval reading
        if not d.is_partial:
            legacy = datetime.fromisoformat(text.replace("Z", "+00:00"))  # the trend parser's reading
            assert d.instant == (legacy if legacy.tzinfo else legacy.replace(tzinfo=UTC))
            assert d.day == legacy.date() == parse_day(text)


@pytest.mark.parametrize(
    ("text", "precision", "first", "end"),
    [
        ("2019", Precision.year, datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)),
        ("2019-12", Precision.month, datetime(2019, 12, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)),
        ("2020-02", Precision.month, datetime(2020, 2, 1, tzinfo=UTC), datetime(2020, 3, 1, tzinfo=UTC)),
        ("2019-04-03", Precision.day, datetime(2019, 4, 3, tzinfo=UTC), datetime(2019, 4, 4, tzinfo=UTC)),
        (
            "2019-04-03T10:00:00Z",
            Precision.second,
            datetime(2019, 4, 3, 10, tzinfo=UTC),
            datetime(2019, 4, 3, 10, 0, 1, tzinfo=UTC),
        ),
        (
            "2019-04-03T10:00:00.25+02:00",
            Precision.subsecond,
            datetime(2019, 4, 3, 8, 0, 0, 250000, tzinfo=UTC),
            datetime(2019, 4, 3, 8, 0, 0, 260000, tzinfo=UTC),
        ),
    ],
)
def test_precision_and_interval(text: str, precision: Precision, first: datetime, end: datetime) -> None:
    d = FhirDate.parse(text)
    assert d.precision == precision
    assert d.interval == (first, end)


def test_partial_dates_have_days_but_no_day_or_instant() -> None:
    year, month = FhirDate.parse("2019"), FhirDate.parse("2020-02")
    assert (year.day, year.iso_day, year.first_day, year.last_day) == (
        None,
        "2019",
        date(2019, 1, 1),
        date(2019, 12, 31),
    )
    assert (month.day, month.iso_day, month.last_day) == (None, "2020-02", date(2020, 2, 29))  # leap year
    with pytest.raises(FhirDateError, match=r"partial date '2019' has no instant \(year precision\)"):
        _ = year.instant
    # the time axis refuses them with the reason trends have always given
    with pytest.raises(DateError, match=r"^partial date '2019-04' is too imprecise to place on a trend$"):
        parse_instant("2019-04")
    with pytest.raises(DateError, match=r"^date '2019-04-31' is not an ISO date or date-time$"):
        parse_instant("2019-04-31")
    with pytest.raises(DateError, match=r"^no date$"):
        parse_instant("  ")


def test_time_zones() -> None:
    late_in_new_york = FhirDate.parse("2019-04-03T23:30:00-05:00")
    early_in_london = FhirDate.parse("2019-04-04T01:00:00Z")
    assert late_in_new_york.day == date(2019, 4, 3)  # the calendar day as written
    assert late_in_new_york.instant == datetime(2019, 4, 4, 4, 30, tzinfo=UTC)
    assert late_in_new_york.start.utcoffset() == timedelta(hours=-5)
    # as instants, the London value is first, although its calendar day is later
    assert early_in_london.surely_before(late_in_new_york)
    assert not late_in_new_york.surely_before(early_in_london)
    # a time can fall on the neighbouring day elsewhere: the checker's range and the case date
    assert late_in_new_york.day_range == (date(2019, 4, 2), date(2019, 4, 4))
    assert to_date("2019-04-03T23:30:00-05:00") == date(2019, 4, 4)
    assert to_date("2019-04") == date(2019, 4, 30)
    # the tolerated time without a zone is read as UTC, like the trend parser always did
    naive = FhirDate.parse("2019-04-03T10:00:00")
    assert not naive.zoned and naive.instant == datetime(2019, 4, 3, 10, tzinfo=UTC)
    assert FhirDate.parse("2019-04-03T10:00:00+14:00").zoned
    # FHIR allows a leap second; Python has none, so it is read as the second before
    assert FhirDate.parse("2016-12-31T23:59:60Z").instant == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not a FHIR date"),
        ("banana", "not a FHIR date"),
        ("0000", "not a FHIR date"),  # FHIR has no year zero
        ("2019-4-3", "not a FHIR date"),
        ("20190403", "not a FHIR date"),  # DICOM's form, not FHIR's
        (" 2019-04-03", "not a FHIR date"),
        ("2019-04-03 10:00:00Z", "not a FHIR date"),
        ("2019-04-03T10:00Z", "not a FHIR date"),  # FHIR requires seconds
        ("2019-04-03T24:00:00Z", "not a FHIR date"),
        ("2019-04-03T10:00:00+15:00", "not a FHIR date"),
        ("2019-13", "not a FHIR date"),
        ("2019-02-29", "not a calendar day"),
        ("2019-04-31T10:00:00Z", "not a calendar day"),
    ],
)
def test_invalid_texts_are_refused_with_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(FhirDateError, match=problem) as error:
        FhirDate.parse(text)
    assert repr(text) in str(error.value)
    assert FhirDate.try_parse(text) is None
    assert iso_day(text) == text  # display shows what is not a date as written


@given(st.from_regex(FHIR_DATETIME_REGEX, fullmatch=True) | st.from_regex(FHIR_INSTANT_REGEX, fullmatch=True))
def test_whatever_the_spec_regexes_allow_parses_unless_it_is_no_calendar_day(text: str) -> None:
    try:
        value = FhirDate.parse(text)
    except FhirDateError as error:
        assert "not a calendar day" in str(error)  # the regexes allow 2019-02-31; FHIR's text does not
    else:
        assert value.text == text and value.zoned == value.has_time


@given(st.from_regex(FHIR_DATE_REGEX, fullmatch=True))
def test_fhir_dates_are_never_given_a_time(text: str) -> None:
    value = FhirDate.try_parse(text)
    assert value is None or (not value.has_time and not value.zoned)


def test_the_only_tolerance_is_a_time_without_a_zone() -> None:
    assert ACCEPTED_REGEX != FHIR_DATETIME_REGEX
    assert FhirDate.try_parse("2019-04-03T10:00:00") is not None
    assert re.fullmatch(FHIR_DATETIME_REGEX, "2019-04-03T10:00:00") is None


def test_refusals_quote_a_bounded_part_of_the_text() -> None:
    with pytest.raises(FhirDateError) as error:
        FhirDate.parse("2019" + "x" * 10_000)
    assert len(str(error.value)) < 120
    with pytest.raises(FhirDateError, match="is a string, not int"):
        FhirDate.parse(2019)  # type: ignore[arg-type]


class _Dated(BaseModel):
    when: FhirDate
    until: FhirDate | None = None


def test_pydantic_field_keeps_the_source_string_in_json() -> None:
    source = '{"when":"2019-04-03T10:00:00.120+02:00","until":"2020"}'
    model = _Dated.model_validate_json(source)
    assert model.when.precision == Precision.subsecond and model.until == FhirDate.parse("2020")
    assert model.model_dump_json() == source
    assert _Dated.model_validate(model.model_dump()) == model
    assert _Dated(when=FhirDate.parse("2019")).when.text == "2019"
    with pytest.raises(ValidationError, match="not a calendar day"):
        _Dated.model_validate_json('{"when":"2019-02-30"}')
    assert _Dated.model_json_schema()["properties"]["when"]["type"] == "string"


# --- the order at mixed precision ----------------------------------------------------------------

_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])


@st.composite
def fhir_dates(draw: st.DrawFn, *, with_times: bool = True) -> str:
    """A FHIR date text at a random precision, around a few nearby years so values collide."""
    moment = draw(st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2020, 12, 31)))
    precision = draw(st.sampled_from(list(Precision) if with_times else list(Precision)[:3]))
    if precision == Precision.year:
        return f"{moment.year:04d}"
    if precision == Precision.month:
        return f"{moment.year:04d}-{moment.month:02d}"
    if precision == Precision.day:
        return moment.date().isoformat()
    zone = draw(_ZONES)
    text = moment.replace(tzinfo=zone).isoformat(
        timespec="seconds" if precision == Precision.second else "milliseconds"
    )
    return text.replace("+00:00", "Z")


def _legacy_before(a: str, b: str) -> bool:
    """The data-quality check's former comparison of ``[:10]`` strings at the shorter length."""
    a, b = a[:10], b[:10]
    n = min(len(a), len(b))
    return a[:n] < b[:n]


@given(fhir_dates(), fhir_dates())
def test_surely_before_is_a_strict_order(a_text: str, b_text: str) -> None:
    a, b = FhirDate.parse(a_text), FhirDate.parse(b_text)
    assert not a.surely_before(a)
    assert not (a.surely_before(b) and b.surely_before(a))
    assert a.surely_before(b) == b.surely_after(a)


@given(fhir_dates(), fhir_dates(), fhir_dates())
def test_surely_before_is_transitive(a_text: str, b_text: str, c_text: str) -> None:
    """Holds for zones less than a day apart (see `FhirDate.surely_before`): all sampled here."""
    a, b, c = (FhirDate.parse(t) for t in (a_text, b_text, c_text))
    if a.surely_before(b) and b.surely_before(c):
        assert a.surely_before(c)


@given(fhir_dates(), fhir_dates(with_times=False))
def test_against_a_date_the_order_is_the_former_calendar_comparison(a_text: str, b_text: str) -> None:
    """Birth dates and today are dates: the data-quality warnings read exactly as before."""
    a, b = FhirDate.parse(a_text), FhirDate.parse(b_text)
    assert a.surely_before(b) == _legacy_before(a_text, b_text)
    assert b.surely_before(a) == _legacy_before(b_text, a_text)


@given(fhir_dates(), st.data())
def test_a_value_is_never_surely_ordered_against_a_coarser_reading_of_itself(
    text: str, data: st.DataObject
) -> None:
    value = FhirDate.parse(text)
    coarser = FhirDate.parse(text[: data.draw(st.sampled_from([4, 7, 10]))][: len(value.iso_day)])
    assert not value.surely_before(coarser) and not coarser.surely_before(value)


@given(fhir_dates())
def test_the_instant_lies_in_the_interval_and_the_day_in_the_day_range(text: str) -> None:
    value = FhirDate.parse(text)
    start, end = value.interval
    assert start < end
    if value.is_partial:
        assert value.day is None
    else:
        assert start <= value.instant < end
        assert value.day is not None and value.day_range[0] <= value.day <= value.day_range[1]
        assert value.iso_day == value.day.isoformat() == text[:10]
