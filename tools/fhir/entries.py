"""Flattening parsed documents into resource entries: Bundles of every type, single resources.

A Bundle (collection, transaction, batch, searchset, document, history, ...) contributes one entry
per ``entry[i].resource``; a Bundle nested in a Bundle is flattened too (an empty nested one, a
search that matched nothing in a batch-response, adds nothing). Entries with no resource (a
transaction DELETE, a searchset that only carries links) are skipped; an OperationOutcome from a
search is kept as a resource like any other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from medboard.errors import FhirInputError
from medboard.limits import LimitExceededError, limits
from medboard.tools.fhir.sources import Document
from medboard.tools.fhir.validation import validate_bundle_shell


@dataclass
class Entry:
    """One resource to index, and where it was found (for error messages)."""

    origin: str
    location: str | None
    resource: Any
    full_url: str | None = None

    def where(self) -> str:
        return self.location or "resource"

    def owns(self, json_path: str) -> bool:
        """True when a JSON path of the document (``entry[3].resource.gender``) lies in this entry."""
        if self.location is None or self.location.startswith("line "):
            return True  # the entry is the whole document (a resource file, an NDJSON line)
        return json_path.startswith(self.location + ".") or json_path.startswith(self.location + "[")


def _not_fhir(document: Document) -> FhirInputError:
    data = document.data
    if isinstance(data, dict):
        keys = describe_keys(data)
        return FhirInputError(
            f"not a FHIR document: the JSON object has no resourceType (keys: {keys})",
            source=document.origin,
            location=document.location,
        )
    return FhirInputError(
        f"not a FHIR document: expected a JSON object with a resourceType, got a JSON {type(data).__name__}",
        source=document.origin,
        location=document.location,
    )


def flatten(document: Document) -> Iterator[Entry]:
    """The entries of one document; raises `FhirInputError` for non-FHIR JSON or an empty bundle."""
    data = document.data
    if not isinstance(data, dict) or "resourceType" not in data:
        raise _not_fhir(document)
    if data.get("resourceType") != "Bundle":
        yield Entry(document.origin, document.location, data)
        return
    yield from _bundle_entries(data, document.origin, document.location)


def _bundle_entries(bundle: dict[str, Any], origin: str, prefix: str | None) -> Iterator[Entry]:
    where = prefix or (f"Bundle/{bundle['id']}" if bundle.get("id") else None)
    problem = validate_bundle_shell(bundle)
    if problem:
        raise FhirInputError(problem, source=origin, location=where)
    entries = bundle.get("entry") or []
    if len(entries) > limits().max_entries:
        raise LimitExceededError(
            f"bundle has {len(entries)} entries", "max_entries", source=origin, location=where
        )
    if not any(isinstance(e, dict) and e.get("resource") for e in entries):
        if prefix:  # a nested search with no match (in a batch-response): nothing to add, not an error
            return
        kind = bundle.get("type", "")
        raise FhirInputError(
            f"empty {kind} bundle: no entry has a resource".replace("  ", " "), source=origin, location=where
        )
    for index, entry in enumerate(entries):
        location = f"{prefix}.entry[{index}]" if prefix else f"entry[{index}]"
        resource = entry.get("resource")
        if resource is None:
            continue
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            yield from _bundle_entries(resource, origin, f"{location}.resource")
            continue
        full_url = entry.get("fullUrl")
        yield Entry(origin, location, resource, full_url if isinstance(full_url, str) else None)


_ELEMENT_NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]{0,63}$")


def describe_keys(data: dict[str, Any]) -> str:
    """The first keys of an object for an error: element-like names only (a key is free text in
    hostile JSON, and errors never quote data)."""
    keys = [k if _ELEMENT_NAME.match(k) else "…" for k in list(data)[:5]]
    return ", ".join(keys) or "none"
