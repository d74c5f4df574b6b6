"""Each cancer with its stages by type, metastatic sites, biomarkers, lines and tumour markers."""

from __future__ import annotations

from medboard.models.picture import Cancer, PatientStatus
from medboard.tools.fhir.record import PatientRecord


def cancers_of(record: PatientRecord, *, case_date: str | None, patient: PatientStatus) -> list[Cancer]:
    return []
