"""Typed facts from a `PatientRecord`: each fact kind reads its resource types (`registry`).

Conventions (other tools rely on them; see each module): a fact's id is the cited ``Type/id``
(plus ``#component[i]`` for Observation components, ``#condition[i]`` for a relative's conditions in
a FamilyMemberHistory), its one `EvidenceRef` cites the resource with the element path and the
source value quoted as text, and ``subject`` is ``Patient/<id>``.
Resource types no kind reads (Encounter, Claim, Practitioner, ...) stay in the record as
resources and yield no fact. Which kind reads what is `registry.DEFAULT_KINDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from medboard.errors import FhirInputError
from medboard.models import Fact
from medboard.tools.fhir.facts.common import ExtractContext
from medboard.tools.fhir.facts.registry import (
    DEFAULT_DISPATCH,
    DEFAULT_KINDS,
    FactKindSpec,
    dispatch_table,
    extractor_for,
)
from medboard.tools.fhir.record import PatientRecord, SkippedEntry

log = logging.getLogger(__name__)


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
    kinds: Sequence[FactKindSpec] | None = None,
) -> list[Fact]:
    """All facts of the record, in resource order; ``kinds`` replaces the registry (`DEFAULT_KINDS`).

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
    table = DEFAULT_DISPATCH if kinds is None else dispatch_table(kinds)
    facts: list[Fact] = []
    failed: list[str] = []
    for key, resource in record.resources.items():
        try:
            extractor = extractor_for(resource, key, ctx, table)
            if extractor is None:
                continue
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


__all__ = ["DEFAULT_KINDS", "ExtractContext", "FactKindSpec", "build_context", "extract_facts"]
