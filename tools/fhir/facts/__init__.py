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

from medboard.errors import FhirInputError
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
from medboard.tools.fhir.record import PatientRecord, SkippedEntry

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
    record: PatientRecord,
    attachment_text: dict[tuple[str, str], str] | None = None,
    *,
    lenient: bool = False,
    where: Callable[[str], str] | None = None,
) -> list[Fact]:
    """All facts of the record, in resource order.

    Any failure while reading one resource (valid-looking FHIR the extractor did not foresee) is
    contained to that resource: in lenient mode it is skipped (removed from the record, listed in
    ``record.skipped`` with the reason), otherwise a `FhirInputError` names its entry. The reason
    is the exception's type, never its message (which may quote the value).
    """
    try:
        ctx = build_context(record, attachment_text)
    except Exception as error:  # a malformed cross-reference must not traceback
        raise FhirInputError(
            f"cannot index references between resources ({type(error).__name__})", source=record.source
        ) from None
    facts: list[Fact] = []
    failed: list[str] = []
    for key, resource in record.resources.items():
        extractor = EXTRACTORS.get(resource.get("resourceType", ""))
        if extractor is None:
            continue
        try:
            facts.extend(extractor(resource, key, ctx))
        except Exception as error:  # contained per resource, see the docstring
            log.debug("fact extraction failed for %s", key, exc_info=True)
            location = where(key) if where else key
            problem = f"{key}: facts cannot be extracted ({type(error).__name__})"
            if not lenient:
                raise FhirInputError(problem, source=location) from None
            record.skipped.append(SkippedEntry(location=location, problem=problem))
            failed.append(key)
    if failed:
        gone = set(failed)
        for key in failed:
            del record.resources[key]
        facts = [f for f in facts if f.evidence.reference not in gone]
        record.warnings.append(
            f"{len(failed)} resource(s) skipped (lenient mode): facts could not be extracted; see `skipped`"
        )
    return facts


__all__ = ["EXTRACTORS", "ExtractContext", "build_context", "extract_facts"]
