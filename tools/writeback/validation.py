"""Every resource checked before the transaction leaves: a failure is medboard's bug, and nothing
is half-written because nothing is sent.

Three layers, because the first does not cover the others:

1. fhir.resources R4B models (pydantic): element names, types, cardinality, required elements,
   primitive formats (``instant``, ``code``, ``uri``). R4B's Composition, Provenance and Device are
   R4's, so what passes here is what an R4 server expects.
2. Narratives: fhir.resources accepts *any* string as ``Narrative.div``; `check_xhtml` parses
   each one and allows only an XHTML ``div`` with medboard's own elements and attributes (txt-1,
   txt-2).
3. The Composition invariants fhir.resources does not evaluate: cmp-1 (a section holds text,
   entries or sub-sections) and cmp-2 (an `emptyReason` only on a section without entries).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from medboard.errors import first_problem
from medboard.tools.writeback.errors import WriteBackValidationError
from medboard.tools.writeback.narrative import check_xhtml


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_resource(resource: dict[str, Any]) -> None:
    """Raise `WriteBackValidationError` unless `resource` is valid R4 with a safe narrative."""
    from fhir.resources.R4B import get_fhir_model_class  # heavy: only when writing back

    resource_type = str(resource.get("resourceType"))
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        raise WriteBackValidationError(
            "no such resource type in FHIR R4", resource_type=resource_type
        ) from None
    try:
        model.model_validate(resource)
    except ValidationError as error:
        problem = first_problem(error)
        raise WriteBackValidationError(
            problem.message + problem.and_more("problem"),
            resource_type=resource_type,
            location=_dotted(problem.loc) or None,
        ) from None
    for where, div in _narratives(resource):
        message = check_xhtml(div)
        if message:
            raise WriteBackValidationError(message, resource_type=resource_type, location=where)
    if resource_type == "Composition":
        _check_sections(resource.get("section", []), "section", resource_type)


def validate_transaction(bundle: dict[str, Any]) -> None:
    """Validate every entry's resource, then the Bundle itself (entries, requests, fullUrls)."""
    from fhir.resources.R4B import get_fhir_model_class

    for entry in bundle.get("entry", []):
        validate_resource(entry["resource"])
    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
    except ValidationError as error:
        problem = first_problem(error)
        raise WriteBackValidationError(
            problem.message, resource_type="Bundle", location=_dotted(problem.loc) or None
        ) from None


def _narratives(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(element path, div) of the resource's narrative and of every Composition section's."""
    found: list[tuple[str, str]] = []
    if "text" in resource:
        found.append(("text.div", resource["text"]["div"]))

    def walk(sections: list[dict[str, Any]], path: str) -> None:
        for i, section in enumerate(sections):
            here = f"{path}[{i}]"
            if "text" in section:
                found.append((f"{here}.text.div", section["text"]["div"]))
            walk(section.get("section", []), f"{here}.section")

    walk(resource.get("section", []), "section")
    return found


def _check_sections(sections: list[dict[str, Any]], path: str, resource_type: str) -> None:
    for i, section in enumerate(sections):
        here = f"{path}[{i}]"
        if not (section.get("text") or section.get("entry") or section.get("section")):
            raise WriteBackValidationError(
                "a section needs text, entries or sub-sections (cmp-1)",
                resource_type=resource_type,
                location=here,
            )
        if section.get("emptyReason") and section.get("entry"):
            raise WriteBackValidationError(
                "a section with entries cannot have an emptyReason (cmp-2)",
                resource_type=resource_type,
                location=here,
            )
        _check_sections(section.get("section", []), f"{here}.section", resource_type)
