"""The patient's vital status: deceased flag and date, cause of death where recorded.

Sources, in order of authority:

- ``Patient.deceasedDateTime`` / ``Patient.deceasedBoolean`` (FHIR R4 Patient);
- an Observation coded LOINC 81956-5 "Date and time of death" (``valueDateTime``), for the date
  when the Patient resource carries none;
- an Observation coded LOINC 69453-9 "Cause of death [US Standard Certificate of Death]" with a
  ``valueCodeableConcept`` (Synthea writes one for every death; its date is the certificate's, not
  the death's, so it sets the cause and the flag, never the date);
- a Condition coded SNOMED CT 419620001 "Death" (the flag only).

Every resource read is cited in ``sources``. Entered-in-error and cancelled observations are skipped.
"""

from __future__ import annotations

from typing import Any

from medboard.models.dates import FhirDate
from medboard.models.picture import PatientStatus
from medboard.tools.fhir.record import PatientRecord

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CAUSE_OF_DEATH = "69453-9"
DATE_OF_DEATH = "81956-5"

#: What documents a death rather than treats a patient (certificate, cause, autopsy, pronouncement).
DEATH_DOCUMENTATION = frozenset(
    {
        "69453-9",  # LOINC Cause of death [US Standard Certificate of Death]
        "69409-1",  # LOINC U.S. standard certificate of death - 2003 revision
        "64297-5",  # LOINC Death certificate
        "81956-5",  # LOINC Date and time of death
        "18743-5",  # LOINC Autopsy report
        "308646001",  # SNOMED Death certification
        "29240004",  # SNOMED Autopsy examination
        "371828006",  # SNOMED Patient pronounced dead
        "419620001",  # SNOMED Death
    }
)
DEATH_CONDITION = "419620001"
_VOID = frozenset({"entered-in-error", "cancelled"})


def _coded(resource: dict[str, Any], system: str, code: str) -> bool:
    return any(
        c.get("system") == system and c.get("code") == code
        for c in (resource.get("code") or {}).get("coding", ())
    )


def _concept_text(concept: dict[str, Any] | None) -> str | None:
    if not concept:
        return None
    if concept.get("text"):
        return str(concept["text"])
    return next((str(c["display"]) for c in concept.get("coding", ()) if c.get("display")), None)


def patient_status(record: PatientRecord) -> PatientStatus:
    """Vital status from Patient.deceased[x] (and, where recorded, the cause of death)."""
    status = PatientStatus(reference=record.patient_ref)
    patient = record.patient or {}
    when = patient.get("deceasedDateTime")
    if when and FhirDate.try_parse(when) is not None:
        status.deceased, status.deceased_date = True, when
    elif patient.get("deceasedBoolean") is True:
        status.deceased = True
    if status.deceased and record.patient_ref:
        status.sources.append(record.patient_ref)
    for observation in record.by_type("Observation"):
        if observation.get("status") in _VOID:
            continue
        reference = f"Observation/{observation.get('id')}"
        if _coded(observation, LOINC, CAUSE_OF_DEATH):
            cause = _concept_text(observation.get("valueCodeableConcept")) or observation.get("valueString")
            if cause and status.cause_of_death is None:
                status.deceased, status.cause_of_death = True, str(cause)
                status.sources.append(reference)
        elif _coded(observation, LOINC, DATE_OF_DEATH):
            value = observation.get("valueDateTime")
            if value and status.deceased_date is None and FhirDate.try_parse(value) is not None:
                status.deceased, status.deceased_date = True, value
                status.sources.append(reference)
    for condition in record.by_type("Condition"):
        if _coded(condition, SNOMED, DEATH_CONDITION) and not status.deceased:
            status.deceased = True
            status.sources.append(f"Condition/{condition.get('id')}")
    status.sources = list(dict.fromkeys(status.sources))
    return status
