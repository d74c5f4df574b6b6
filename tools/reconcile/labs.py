"""Lab series split by comparable unit; implausible values kept out and reported as data quality."""

from __future__ import annotations

from medboard.models.picture import DataQuality, LabSeries, PatientStatus
from medboard.tools.fhir.record import PatientRecord


def lab_series(
    record: PatientRecord, *, case_date: str | None, patient: PatientStatus
) -> tuple[list[LabSeries], list[DataQuality]]:
    return [], []
