"""Prefetch templates, and the prefetched data turned into one Bundle `load_record` reads.

The service asks for five things (`PREFETCH`): the patient, and searchset Bundles of conditions,
observations, medication requests and diagnostic reports. Per the spec a CDS client leaves out a
key it chose not to (or could not) satisfy, and sends ``null`` for a key with no data. So:

- every key present (a resource, a searchset, or null — except the patient) → the record is the
  prefetch alone;
- a key missing, or a searchset that still has a ``next`` page (prefetch must come whole) → the
  prefetch is partial: the record is pulled from ``fhirServer`` with ``fhirAuthorization`` when
  both are given, otherwise the call gets 412 (the spec's "unable to retrieve the necessary FHIR
  data"). A partial record is not summarized: a summary that says "no cancer on record" because
  the conditions were never sent would be wrong, not merely incomplete.

The prefetched resources are checked to be of the type asked for and, with the patient, to be
*this* patient (`context.patientId`); `load_record` then reads them like any Bundle (R4B models,
references, caps) and its one-line `FhirInputError` names the prefetch key and entry.
"""

from __future__ import annotations

from typing import Any

from medboard.errors import FhirInputError

#: Prefetch key -> (FHIR query template, the resource type it returns).
PREFETCH_QUERIES: dict[str, tuple[str, str]] = {
    "patient": ("Patient/{{context.patientId}}", "Patient"),
    "conditions": ("Condition?patient={{context.patientId}}", "Condition"),
    "observations": ("Observation?patient={{context.patientId}}", "Observation"),
    "medications": ("MedicationRequest?patient={{context.patientId}}", "MedicationRequest"),
    "reports": ("DiagnosticReport?patient={{context.patientId}}", "DiagnosticReport"),
}
PREFETCH: dict[str, str] = {key: query for key, (query, _) in PREFETCH_QUERIES.items()}


def missing_keys(prefetch: dict[str, Any] | None) -> list[str]:
    """The prefetch keys not satisfied: absent, a searchset with further pages, or a null patient."""
    prefetch = prefetch or {}
    missing = []
    for key in PREFETCH_QUERIES:
        # The patient is the one key whose null leaves nothing to summarize.
        if (
            key not in prefetch
            or _has_next_page(prefetch[key])
            or (key == "patient" and prefetch[key] is None)
        ):
            missing.append(key)
    return missing


def _has_next_page(value: Any) -> bool:
    if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
        return False
    links = value.get("link") or []
    return any(isinstance(link, dict) and link.get("relation") == "next" for link in links)


def prefetch_bundle(prefetch: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """One collection Bundle of everything prefetched (the keys this service asked for only)."""
    if prefetch.get("patient") is None:
        raise FhirInputError(
            "the Patient is null: there is no patient to summarize", source="prefetch.patient"
        )
    resources: list[dict[str, Any]] = []
    for key, (_, resource_type) in PREFETCH_QUERIES.items():
        value = prefetch.get(key)
        if value is None:
            continue
        where = f"prefetch.{key}"
        if not isinstance(value, dict):
            raise FhirInputError("expected a FHIR resource or a searchset Bundle", source=where)
        if value.get("resourceType") == "Bundle":
            resources.extend(_searchset_resources(value, resource_type, where))
        elif value.get("resourceType") == resource_type:
            resources.append(value)
        else:
            raise FhirInputError(f"expected a {resource_type} or a searchset Bundle", source=where)
    patient = prefetch["patient"]
    if isinstance(patient, dict) and patient.get("resourceType") == "Bundle":
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
    else:
        patients = [patient]
    if len(patients) != 1 or patients[0].get("id") != patient_id:
        raise FhirInputError("the prefetched Patient is not context.patientId", source="prefetch.patient")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }


def _searchset_resources(bundle: dict[str, Any], resource_type: str, where: str) -> list[dict[str, Any]]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirInputError("Bundle.entry is not a list", source=where)
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise FhirInputError("an entry without a resource", source=where, location=f"entry[{index}]")
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # an OperationOutcome about the search, not data
        resource = entry["resource"]
        kind = resource.get("resourceType")
        if kind != resource_type and not (isinstance(search, dict) and search.get("mode") == "include"):
            raise FhirInputError(
                f"a resource that is not a {resource_type}", source=where, location=f"entry[{index}]"
            )
        found.append(resource)
    return found
