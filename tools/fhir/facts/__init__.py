"""Typed facts from a `PatientRecord`: one extractor per resource type.

Conventions (other tools rely on them; see each module): a fact's id is the cited ``Type/id``
(plus ``#component[i]`` for Observation components), its one `EvidenceRef` cites the resource
with the element path and the source value quoted as text, and ``subject`` is ``Patient/<id>``.
Resource types without an extractor (Encounter, Claim, Practitioner, ...) stay in the record
as resources and yield no fact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from medboard.models import Fact
from medboard.tools.fhir.facts.common import JSON, ExtractContext
from medboard.tools.fhir.facts.condition import extract_condition
from medboard.tools.fhir.facts.document import extract_composition, extract_document_reference
from medboard.tools.fhir.facts.imaging import extract_imaging_study
from medboard.tools.fhir.facts.medication import extract_medication
from medboard.tools.fhir.facts.observation import extract_observation
from medboard.tools.fhir.facts.patient import extract_patient
from medboard.tools.fhir.facts.procedure import extract_procedure
from medboard.tools.fhir.facts.report import extract_report
from medboard.tools.fhir.record import PatientRecord

log = logging.getLogger(__name__)

Extractor = Callable[[JSON, str, ExtractContext], list[Fact]]

EXTRACTORS: dict[str, Extractor] = {
    "Patient": extract_patient,
    "Condition": extract_condition,
    "Observation": extract_observation,
    "MedicationRequest": extract_medication,
    "MedicationStatement": extract_medication,
    "MedicationAdministration": extract_medication,
    "MedicationDispense": extract_medication,
    "Procedure": extract_procedure,
    "DiagnosticReport": extract_report,
    "DocumentReference": extract_document_reference,
    "Composition": extract_composition,
    "ImagingStudy": extract_imaging_study,
}


def build_context(
    record: PatientRecord, attachment_text: dict[tuple[str, str], str] | None = None
) -> ExtractContext:
    """Index the cross-resource links the extractors need (report -> results, stage -> condition)."""
    ctx = ExtractContext(record=record, attachment_text=attachment_text or {})
    for key, resource in record.resources.items():
        kind = resource.get("resourceType")
        if kind == "DiagnosticReport":
            for result in ctx.refs(resource.get("result")):
                ctx.reports_of.setdefault(result, []).append(key)
        elif kind == "Condition":
            for stage in resource.get("stage", ()):
                for assessment in ctx.refs(stage.get("assessment")):
                    ctx.staged_conditions.setdefault(assessment, []).append(key)
    return ctx


def extract_facts(
    record: PatientRecord, attachment_text: dict[tuple[str, str], str] | None = None
) -> list[Fact]:
    """All facts of the record, in resource order. An extractor bug degrades to a warning."""
    ctx = build_context(record, attachment_text)
    facts: list[Fact] = []
    for key, resource in record.resources.items():
        extractor = EXTRACTORS.get(resource.get("resourceType", ""))
        if extractor is None:
            continue
        try:
            facts.extend(extractor(resource, key, ctx))
        except Exception as error:  # a bug must not lose the whole record; it is reported
            log.warning("fact extraction failed for %s: %s", key, type(error).__name__)
            record.warnings.append(f"{key}: could not extract facts ({type(error).__name__}: {error})")
    return facts


__all__ = ["EXTRACTORS", "ExtractContext", "build_context", "extract_facts"]
