"""Medications by ingredient across Request, Statement, Administration and Dispense."""

from __future__ import annotations

from medboard.models.picture import Medication, PatientStatus
from medboard.tools.fhir.record import PatientRecord


def medications_of(
    record: PatientRecord, *, case_date: str | None, patient: PatientStatus
) -> list[Medication]:
    return []
