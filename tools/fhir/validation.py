"""Validation of one resource with the `fhir.resources` R4B models, with errors a user can act on.

Each resource is validated exactly once, with its own model class (a Bundle is validated as a
shell without its entries' resources, so no resource is validated twice). Pydantic errors are
turned into one short line with the FHIR element path (``Observation.valueQuantity.value``);
an unknown ``resourceType`` gets the closest R4B name suggested.
"""

from __future__ import annotations

import difflib
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError

_MAX_PROBLEM = 200


@lru_cache(maxsize=1)
def _top_level_names() -> tuple[str, ...]:
    """Names of the R4B types that have their own module: resources plus complex datatypes."""
    from fhir.resources.R4B import fhirtypes

    names = []
    for attr in dir(fhirtypes):
        if not attr.endswith("Type"):
            continue
        target = str(getattr(getattr(fhirtypes, attr), "_model_klass", ""))
        module, _, klass = target.rpartition(".")
        if klass == attr[:-4] and module.endswith("." + klass.lower()):
            names.append(klass)
    return tuple(sorted(names))


@cache
def model_class(resource_type: str) -> Any | None:
    """The R4B model class of a resource type, or None when the name is not an R4B resource."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        cls = get_fhir_model_class(resource_type)
    except (ValueError, ImportError, AttributeError):
        return None
    return cls if cls.has_resource_base() else None


def suggest_resource_type(name: str) -> str | None:
    """The closest R4B resource type name (case-insensitive), for 'did you mean …?'."""
    names = _top_level_names()
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered and model_class(lowered[name.lower()]):
        return lowered[name.lower()]
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.6)
    return next((lowered[m] for m in matches if model_class(lowered[m])), None)


def unknown_type_problem(resource_type: Any) -> str:
    if not isinstance(resource_type, str) or not resource_type:
        return f"resourceType must be a non-empty string, got {resource_type!r}"
    suggestion = suggest_resource_type(resource_type)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return f"unknown resourceType {resource_type!r}{hint}"


def _element_path(resource_type: str, loc: tuple[Any, ...]) -> str:
    path = resource_type
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def describe_validation_error(resource_type: str, error: ValidationError) -> str:
    """One line: the first problem with its FHIR path, and how many more there are."""
    errors = error.errors(include_url=False)
    first = errors[0]
    path = _element_path(resource_type, tuple(first.get("loc", ())))
    if first.get("type") == "base64_decode":
        message = "attachment data is not valid base64"
    else:
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            message = "unknown element (not in FHIR R4B; misspelt?)"
        elif not isinstance(first.get("input"), dict | list) and len(repr(first.get("input"))) <= 40:
            message = f"{message.rstrip('.')} (got {first.get('input')!r})"
    problem = f"invalid {resource_type}: {path}: {message}"
    if len(problem) > _MAX_PROBLEM:
        problem = problem[: _MAX_PROBLEM - 1] + "…"
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return problem


def validate_resource(resource: dict[str, Any]) -> str | None:
    """Validate one resource dict; return the problem as one line, or None when it is valid."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return unknown_type_problem(resource_type)
    cls = model_class(resource_type)
    if cls is None:
        return unknown_type_problem(resource_type)
    try:
        cls.model_validate(resource)
    except ValidationError as error:
        return describe_validation_error(resource_type, error)
    return None


def validate_bundle_shell(bundle: dict[str, Any]) -> str | None:
    """Validate a Bundle's own elements (type, entry.fullUrl, request, ...) but not its resources."""
    shell = {key: value for key, value in bundle.items() if key != "entry"}
    entries = bundle.get("entry")
    if isinstance(entries, list):
        shell["entry"] = [
            {k: v for k, v in entry.items() if k != "resource"} if isinstance(entry, dict) else entry
            for entry in entries
        ]
    return validate_resource(shell)
