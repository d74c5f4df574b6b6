"""Dates that cannot be true: a birth in the future, clinical events before birth or after today.

A record is data from the past: a Patient born after today is refused (it is a data-entry error
or a value in the wrong element, e.g. an MRN written into birthDate; nothing derived from it, such
as age, could be trusted). Clinical dates before the birth or after today are kept but flagged as
record warnings (data quality) naming the resources, never their values. FHIR dates may be partial
(``1970``, ``1970-05``): comparisons use the precision both sides have (`FhirDate.surely_before`),
so a partial date is only flagged when it is wrong at every reading.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from medboard.models import FhirDate
from medboard.tools.fhir.record import PatientRecord

_LISTED = 5


def today() -> FhirDate:
    return FhirDate.parse(dt.date.today().isoformat())


def future_birth_problem(resource: dict[str, Any]) -> str | None:
    """The refusal of a Patient born after today (path and rule, not the value)."""
    birth = FhirDate.try_parse(resource.get("birthDate"))
    if birth and today().surely_before(birth):
        return "invalid Patient: Patient.birthDate: is after today (a birth date cannot be in the future)"
    return None


def implausible_dates(record: PatientRecord) -> list[str]:
    """Data-quality warnings: resources whose clinical dates fall before birth or after today."""
    patient = record.patient
    birth = FhirDate.try_parse(patient.get("birthDate")) if patient else None
    now = today()
    early: dict[str, None] = {}
    late: dict[str, None] = {}
    for fact in record.facts:
        if fact.kind.value == "patient":
            continue
        for value in (fact.date, fact.end_date):
            day = FhirDate.try_parse(value)
            if day is None:
                continue
            reference = fact.evidence.reference
            if birth and day.surely_before(birth):
                early[reference] = None
            if now.surely_before(day):
                late[reference] = None
    warnings = []
    if early:
        warnings.append(f"data quality: {_count(early)} dated before the patient's birth ({_list(early)})")
    if late:
        warnings.append(f"data quality: {_count(late)} dated after today ({_list(late)})")
    return warnings


def _count(references: dict[str, None]) -> str:
    return f"{len(references)} resource{'s' if len(references) != 1 else ''}"


def _list(references: dict[str, None]) -> str:
    names = list(references)
    return ", ".join(names[:_LISTED]) + (", …" if len(names) > _LISTED else "")
