"""Which patient a source is about, and keeping only that patient's resources.

Bulk Data exports (and folders of examples) hold many patients; a record is one patient. A
resource belongs to a patient through its ``subject`` / ``patient`` / ``beneficiary`` reference
(a Patient belongs to itself); resources that belong to no patient (Practitioner, Organization,
Medication, ...) are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medboard.errors import FhirInputError
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.fhir.references import reference_type_and_id

_OWNER_FIELDS = ("subject", "patient", "beneficiary")


def owner(record: PatientRecord, resource: Mapping[str, Any]) -> str | None:
    """The id of the patient a resource belongs to, or None."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id")
    for field in _OWNER_FIELDS:
        value = resource.get(field)
        if not isinstance(value, Mapping) or not isinstance(value.get("reference"), str):
            continue
        reference = value["reference"]
        canonical = record.canonical(reference)
        parsed = reference_type_and_id(canonical or reference)
        if parsed and parsed[0] == "Patient":
            return parsed[1]
    return None


def select_patient(record: PatientRecord, wanted: str | None) -> str | None:
    """Choose the record's patient and drop other patients' resources (and their aliases).

    Raises `FhirInputError` when several patients are present and none is picked, or when the
    picked one is not in the source.
    """
    owners = {key: owner(record, resource) for key, resource in record.resources.items()}
    patients = list(dict.fromkeys(p for p in owners.values() if p))
    if wanted is not None:
        wanted = wanted.removeprefix("Patient/")
        if wanted not in patients:
            listed = _listing(patients) if patients else "none"
            raise FhirInputError(
                f"patient {wanted!r} is not in this source (patients: {listed})", source=record.source
            )
    elif len(patients) > 1:
        raise FhirInputError(
            f"resources of {len(patients)} different patients ({_listing(patients)}); "
            "pick one with patient=<id> (CLI: --patient <id>)",
            source=record.source,
        )
    chosen = wanted or (patients[0] if patients else None)
    if len(patients) > 1:
        keep = {key for key, who in owners.items() if who is None or who == chosen}
        record.resources = {k: v for k, v in record.resources.items() if k in keep}
        record.aliases = {a: k for a, k in record.aliases.items() if k in keep}
    return chosen


def _listing(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … and {len(ids) - limit} more" if len(ids) > limit else "")
