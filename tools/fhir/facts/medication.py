"""MedicationRequest / Statement / Administration / Dispense -> ``medication`` facts."""

from __future__ import annotations

from typing import Any

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import MedicationDetails
from medboard.tools.fhir.codes import RXNORM
from medboard.tools.fhir.facts.common import (
    JSON,
    ExtractContext,
    cancer_related,
    codings,
    display,
    displays,
    effective,
    profiles,
)


def _medication(resource: JSON, ctx: ExtractContext) -> tuple[Any, str | None]:
    """The medication CodeableConcept: inline, or from the referenced (maybe contained) Medication."""
    if resource.get("medicationCodeableConcept"):
        return resource["medicationCodeableConcept"], "medicationCodeableConcept"
    reference = resource.get("medicationReference")
    if reference:
        medication = ctx.resolve(reference, resource)
        if medication is not None and medication.get("code"):
            return medication["code"], "medicationReference"
        if reference.get("display"):
            return {"text": reference["display"]}, "medicationReference"
    return None, None


def _dosage_text(resource: JSON) -> str | None:
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    if isinstance(dosages, dict):  # MedicationAdministration.dosage is a single element
        dosages = [dosages]
    texts = [d["text"] for d in dosages if d.get("text")]
    if texts:
        return "; ".join(texts)
    for d in dosages:
        dose = (d.get("doseAndRate") or [{}])[0].get("doseQuantity") or d.get("dose")
        if dose and dose.get("value") is not None:
            return f"{dose['value']} {dose.get('unit') or dose.get('code') or ''}".strip()
    return None


def _dates(resource: JSON) -> tuple[str | None, str | None]:
    kind = resource.get("resourceType")
    if kind == "MedicationRequest":
        start = resource.get("authoredOn")
        bounds = None
        for dosage in resource.get("dosageInstruction", ()):
            bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or bounds
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        end = (bounds or {}).get("end") or validity.get("end")
        return start or (bounds or {}).get("start") or validity.get("start"), end
    if kind == "MedicationDispense":
        return resource.get("whenHandedOver") or resource.get("whenPrepared"), None
    start, end = effective(resource)
    if kind == "MedicationStatement" and not start:
        start = resource.get("dateAsserted")
    return start, end


def extract_medication(resource: JSON, key: str, ctx: ExtractContext) -> list[Fact]:
    concept, path = _medication(resource, ctx)
    label = display(concept) or key
    start, end = _dates(resource)
    reasons = displays(resource.get("reasonCode", ())) + ctx.refs(resource.get("reasonReference"))
    return [
        ctx.fact(
            FactKind.medication,
            key,
            label,
            path=path,
            quote=display(concept),
            codes=codings(concept, prefer=RXNORM),
            status=resource.get("status"),
            date=start,
            end_date=end,
            related=ctx.refs(resource.get("reasonReference")),
            details=MedicationDetails(
                resource_type=resource.get("resourceType"),
                intent=resource.get("intent"),
                dosage=_dosage_text(resource),
                reason=reasons,
                cancer_related=cancer_related(resource, ctx),
                profiles=profiles(resource),
            ),
        )
    ]
