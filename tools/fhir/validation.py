"""Validation of one resource with the `fhir.resources` R4B models, with errors a user can act on.

Each resource is validated exactly once, with its own model class (a Bundle is validated as a
shell without its entries' resources, so no resource is validated twice). Pydantic errors are
turned into one short line with the FHIR element path (``Observation.valueQuantity.value``);
an unknown ``resourceType`` gets the closest R4B name suggested.
"""

from __future__ import annotations

import difflib
import re
from functools import cache, lru_cache
from typing import Any

from pydantic import ValidationError

from medboard.errors import first_problem
from medboard.textsafety import neutralize_line

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


_TYPE_NAME = re.compile(r"^[A-Za-z]{1,64}$")


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


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
        return f"resourceType must be a non-empty string (got a JSON {_json_kind(resource_type)})"
    if not _TYPE_NAME.match(resource_type):  # not a name: possibly data, so not quoted
        return "unknown resourceType (not a resource type name)"
    suggestion = suggest_resource_type(resource_type)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return f"unknown resourceType {resource_type!r}{hint}"


_ELEMENT_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]{0,63}$")


def _element_path(resource_type: str, loc: tuple[Any, ...]) -> str:
    """``Observation.valueQuantity.value``; a key that is not element-like (free text in hostile
    JSON, possibly data) is shown as ``…``."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += "." + (str(part) if _ELEMENT_NAME.match(str(part)) else "…")
    return path


def _without_value(message: str, value: Any) -> str:
    """The message with the offending input removed: errors say the path and the rule, never the
    value (it may be an identifier: an SSN, an MRN typed into birthDate)."""
    if isinstance(value, dict | list) or value is None:
        return message
    for text in {str(value), repr(value)}:
        if len(text) >= 2 and text in message:
            message = message.replace(text, "…")
    return message


def describe_validation_error(resource_type: str, error: ValidationError) -> str:
    """One line: the first problem with its FHIR path, and how many more there are."""
    first = first_problem(error)
    path = _element_path(resource_type, first.loc)
    if first.kind == "base64_decode":
        message = "attachment data is not valid base64"
    elif first.kind == "extra_forbidden":
        message = "unknown element (not in FHIR R4B; misspelt?)"
    elif first.kind == "json_invalid":  # the models try a string as JSON text
        message = f"expected a JSON object (got a JSON {_json_kind(first.input)})"
    else:
        message = _without_value(first.message, first.input)
    problem = neutralize_line(f"invalid {resource_type}: {path}: {message}")
    if len(problem) > _MAX_PROBLEM:
        problem = problem[: _MAX_PROBLEM - 1] + "…"
    return problem + first.and_more("problem")


#: FHIR R4 (4.0.1) resource types that R4B replaced or dropped, so `fhir.resources` has no model
#: for them. They are valid R4 (not "unknown"); medboard extracts no facts from any of them.
R4_ONLY_TYPES = frozenset(
    {
        "EffectEvidenceSynthesis",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
    }
)


def validate_resource(resource: dict[str, Any]) -> str | None:
    """Validate one resource dict; return the problem as one line, or None when it is valid."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not _TYPE_NAME.match(resource_type):
        return unknown_type_problem(resource_type)
    cls = model_class(resource_type)
    if cls is None:
        return unknown_type_problem(resource_type)
    try:
        cls.model_validate(resource)
    except RecursionError:  # e.g. extensions nested hundreds deep under a raised depth cap
        return f"invalid {resource_type}: nested too deeply to validate"
    except ValidationError as error:
        if _has_extension_primitive_extensions(error):
            try:  # valid FHIR the R4B models reject; the record keeps the source as it is
                cls.model_validate(_without_extension_primitive_extensions(resource))
            except ValidationError as retry_error:
                return describe_validation_error(resource_type, retry_error)
            except RecursionError:
                return f"invalid {resource_type}: nested too deeply to validate"
            return None
        return describe_validation_error(resource_type, error)
    return None


_PRIMITIVE_TYPES = frozenset(
    [
        "Base64Binary",
        "Boolean",
        "Canonical",
        "Code",
        "Date",
        "DateTime",
        "Decimal",
        "Id",
        "Instant",
        "Integer",
        "Markdown",
        "Oid",
        "PositiveInt",
        "String",
        "Time",
        "UnsignedInt",
        "Uri",
        "Url",
        "Uuid",
    ]
)


def _is_choice_primitive_extension(key: object) -> bool:
    return isinstance(key, str) and key.startswith("_value") and key[6:] in _PRIMITIVE_TYPES


def _has_extension_primitive_extensions(error: ValidationError) -> bool:
    """True when a problem is an ``extension[i]._valueString``-style key: an extension on an
    extension's primitive value (e.g. a translation of a valueString), which FHIR R4 JSON allows
    but the `fhir.resources` R4B Extension model forbids (then validate again without them)."""
    return any(
        e.get("type") == "extra_forbidden" and _is_choice_primitive_extension((e.get("loc") or ("",))[-1])
        for e in error.errors(include_url=False)
    )


def _without_extension_primitive_extensions(value: Any) -> Any:
    """A copy without the ``_value[x]`` keys of extensions (dicts with a ``url``)."""
    if isinstance(value, dict):
        is_extension = "url" in value
        return {
            key: _without_extension_primitive_extensions(child)
            for key, child in value.items()
            if not (is_extension and _is_choice_primitive_extension(key))
        }
    if isinstance(value, list):
        return [_without_extension_primitive_extensions(child) for child in value]
    return value


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
