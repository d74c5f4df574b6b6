"""Lab series split by comparable unit; implausible values kept out and reported as data quality.

Why: a series that merges eGFR in ``mL/min`` with eGFR in ``mL/min/{1.73_m2}`` computes a change
between two different measurements ("−88.7 %"), and a series holding "Protein 76.21 g/dL" states a
value no living patient has. So a series is one analyte (LOINC code, else label) in one *comparable*
unit (`medboard.tools.units.comparable_for_series`: convertible and with the same UCUM annotations);
a unit that converts exactly (mg/dL and g/L) joins the series of the earliest value and is
converted to its unit. Implausible values (`medboard.tools.longitudinal.plausibility`) never
enter a series; each one is a `DataQuality` item that keeps the raw value and unit.

Facts dated after the patient's death (except records of the death itself, which are written after
it: `patient.DEATH_DOCUMENTATION`, the one list `conflicts.after_death` uses too), or after the
case date, are listed as data quality too —
grouped per resource type (a count and the first few references), never one item per resource —
and their values are kept out of the series: the picture is the patient at the case date.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from medboard.models import Fact, FactKind
from medboard.models.dates import FhirDate
from medboard.models.fact_kinds import PatientDetails
from medboard.models.picture import DataQuality, LabPoint, LabSeries, PatientStatus
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.longitudinal.plausibility import implausibility
from medboard.tools.longitudinal.trends import loinc_code
from medboard.tools.reconcile.patient import DEATH_DOCUMENTATION
from medboard.tools.units import UnitConversionError, comparable_for_series, convert

#: The fact kinds that make lab series (as `medboard trends` does).
SERIES_KINDS = (FactKind.lab, FactKind.vital, FactKind.tumor_marker)

#: References quoted in one grouped data-quality item (the count says how many there are in all).
MAX_LISTED = 5


_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?\s*$")


@dataclass
class _Bucket:
    """One series under construction: its unit and its points, already in that unit."""

    unit: str | None
    name: str
    code: str | None
    points: list[LabPoint] = field(default_factory=list)


def lab_series(
    record: PatientRecord, *, case_date: str | None, patient: PatientStatus
) -> tuple[list[LabSeries], list[DataQuality]]:
    """Every analyte's series per comparable unit, and the data-quality items found on the way."""
    case_day = FhirDate.try_parse(case_date) if case_date else None
    death = _death_date(record, patient)
    quality: list[DataQuality] = []
    after_death = _after(record.facts, death, exclude=record.patient_ref)
    after_case = _after(record.facts, case_day, exclude=record.patient_ref)
    if death is not None and after_death:
        quality.extend(_grouped("after_death", f"the patient's death on {death.iso_day}", after_death))
    if case_day is not None and after_case:
        quality.extend(_grouped("after_case_date", f"the case date {case_day.iso_day}", after_case))
    excluded = {id(f) for f in after_death} | {id(f) for f in after_case}

    readings = [
        (fact, reading)
        for fact in record.facts_of(*SERIES_KINDS)
        if id(fact) not in excluded and (reading := _reading(fact)) is not None
    ]
    # Earliest first, so a series' unit is its first value's unit whatever the bundle's order.
    readings.sort(key=lambda fr: (fr[1][1].interval[0], fr[0].reference))
    buckets: dict[str, list[_Bucket]] = defaultdict(list)
    for fact, (value, _when) in readings:
        unit = fact.unit_code or fact.unit
        loinc = loinc_code(fact)
        why = implausibility(value, unit, loinc)
        if why is not None:
            quality.append(_implausible(fact, value, unit, why))
            continue
        key = loinc or f"label:{fact.label}"
        bucket, converted = _bucket_for(buckets[key], value, unit, loinc)
        if bucket is None:
            bucket = _Bucket(unit=unit, name=fact.label, code=loinc)
            buckets[key].append(bucket)
            converted = value
        point = LabPoint(value=converted, date=str(fact.date), source=fact.reference)
        bucket.points.append(point)

    series = [
        LabSeries(
            name=bucket.name,
            code=bucket.code,
            unit=bucket.unit,
            points=bucket.points,  # already in date order
        )
        for group in buckets.values()
        for bucket in group
    ]
    series.sort(key=lambda s: (s.name.lower(), s.code or "", s.unit or ""))
    return series, quality


def _death_date(record: PatientRecord, patient: PatientStatus) -> FhirDate | None:
    """The date of death: the reconciled patient status, else the Patient's deceasedDateTime."""
    if patient.deceased_date:
        parsed = FhirDate.try_parse(patient.deceased_date)
        if parsed is not None:
            return parsed
    for fact in record.facts_of(FactKind.patient):
        if isinstance(fact.details, PatientDetails) and isinstance(fact.details.deceased, str):
            parsed = FhirDate.try_parse(fact.details.deceased)
            if parsed is not None:
                return parsed
    return None


def _after(facts: Iterable[Fact], limit: FhirDate | None, *, exclude: str | None) -> list[Fact]:
    """Facts whose date is surely after `limit` (a partial or same-day date is not claimed)."""
    if limit is None:
        return []
    out = []
    for fact in facts:
        if fact.kind == FactKind.patient or fact.reference == exclude:
            continue
        if any(c.code in DEATH_DOCUMENTATION for c in fact.codes):  # records *of* the death
            continue
        when = FhirDate.try_parse(fact.date)
        if when is not None and when.surely_after(limit):
            out.append(fact)
    return out


def _grouped(kind: str, event: str, facts: list[Fact]) -> list[DataQuality]:
    """One item per resource type: how many resources are dated after `event`, and the first few."""
    by_type: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_type[fact.reference.split("/", 1)[0]].append(fact)
    items = []
    for resource_type in sorted(by_type):
        ordered = sorted(by_type[resource_type], key=lambda f: (str(f.date), f.reference))
        references = list(dict.fromkeys(f.reference for f in ordered))
        first = FhirDate.try_parse(ordered[0].date)
        last = FhirDate.try_parse(ordered[-1].date)
        span = f"{first.iso_day if first else ordered[0].date}"
        if last is not None and last.iso_day != span:
            span += f" to {last.iso_day}"
        shown = ", ".join(references[:MAX_LISTED]) + (
            f", … ({len(references) - MAX_LISTED} more)" if len(references) > MAX_LISTED else ""
        )
        noun = "resource" if len(references) == 1 else "resources"
        items.append(
            DataQuality(
                kind=kind,
                description=(
                    f"{len(references)} {resource_type} {noun} dated after {event} ({span}): {shown}"
                    + (
                        "; their lab values are kept out of the series"
                        if any(f.kind in SERIES_KINDS for f in ordered)
                        else ""
                    )
                ),
                sources=references[:MAX_LISTED],
            )
        )
    return items


def _reading(fact: Fact) -> tuple[float, FhirDate] | None:
    """The fact's number and date, or None when it has no plain number or no readable date.

    Censored (``<0.1``), coded and text values are not series points (`medboard trends` lists them).
    """
    raw = fact.value
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        if not _NUMBER.match(raw):
            return None
        value = float(raw)
    elif isinstance(raw, (int, float)):
        value = float(raw)
    else:
        return None
    if not math.isfinite(value) or fact.comparator:
        return None
    when = FhirDate.try_parse(fact.date)
    return None if when is None else (value, when)


def _bucket_for(
    group: list[_Bucket], value: float, unit: str | None, loinc: str | None
) -> tuple[_Bucket | None, float]:
    """The first series of the analyte whose unit `unit` may share, and the value in its unit."""
    for bucket in group:
        if bucket.unit == unit:
            return bucket, value
        if bucket.unit is None or unit is None:
            continue
        if comparable_for_series(bucket.unit, unit, loinc=loinc):
            try:
                return bucket, convert(value, unit, bucket.unit, loinc=loinc)
            except UnitConversionError:
                continue
    return None, value


def _implausible(fact: Fact, value: float, unit: str | None, why: str) -> DataQuality:
    when = FhirDate.try_parse(fact.date)
    day = when.iso_day if when else (fact.date or "undated")
    raw = fact.value if isinstance(fact.value, (str, int, float)) else value  # as written
    shown = f"{raw} {fact.unit or unit}" if (fact.unit or unit) else str(raw)
    return DataQuality(
        kind="implausible_value",
        description=f"{fact.label} {shown} on {day} ({fact.reference}): {why}",
        sources=[fact.reference],
    )
