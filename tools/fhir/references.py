"""References between resources: finding them, resolving them, reporting the dangling ones.

A reference resolves when it names a resource of the record by relative ``Type/id``, by a
bundle ``fullUrl`` (``urn:uuid:…`` as Synthea writes, or an absolute URL; without a fullUrl, a
``urn:uuid:<id>`` names the resource whose id is that UUID), by an absolute URL
whose tail is ``Type/id`` (optionally ``/_history/n``), or — for ``#id`` — a resource contained in
the referring resource. Contained resources are not indexed on their own (their ids are only
unique inside the container); evidence about them cites the container with a ``contained[i]``
path. What does not resolve (a Practitioner outside the bundle, a conditional
``Patient?identifier=…`` reference) is reported as a `DanglingReference`, never fatal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from medboard.tools.fhir.record import DanglingReference, PatientRecord


def iter_references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(element path, reference string) for every Reference in a resource's JSON."""
    stack: list[tuple[str, Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            reference = value.get("reference")
            if isinstance(reference, str):
                yield where, reference
            for key, child in value.items():
                if isinstance(child, dict | list):
                    stack.append((f"{where}.{key}", child))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                if isinstance(child, dict | list):
                    stack.append((f"{where}[{index}]", child))


def resolves(record: PatientRecord, reference: str, container: Mapping[str, Any]) -> bool:
    if reference.startswith("#"):
        wanted = reference[1:]
        return not wanted or any(c.get("id") == wanted for c in container.get("contained", ()))
    return record.canonical(reference) is not None


def find_dangling(record: PatientRecord) -> list[DanglingReference]:
    """Every reference of every resource that does not resolve inside the record."""
    dangling: list[DanglingReference] = []
    for key, resource in record.resources.items():
        resource_type = resource.get("resourceType", key.split("/")[0])
        for path, reference in iter_references(resource, resource_type):
            if not resolves(record, reference, resource):
                dangling.append(DanglingReference(source=key, path=path, target=reference))
    dangling.sort(key=lambda d: (d.source, d.path))
    return dangling


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def uuid_id_aliases(resources: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, str]:
    """``urn:uuid:<id>`` -> ``Type/<id>`` for resources whose id is a UUID and that no fullUrl
    already claims: a Synthea-style record split out of its bundle (NDJSON, a folder of files)
    keeps ``urn:uuid:`` references that meant exactly these resources (UUIDs do not collide)."""
    out: dict[str, str] = {}
    for key in resources:
        resource_id = key.split("/", 1)[1]
        alias = f"urn:uuid:{resource_id}"
        if _UUID.match(resource_id) and alias not in aliases:
            out[alias] = key
    return out


def contained_aliases(record: PatientRecord) -> dict[str, str]:
    """``Type/id#cid`` -> ``Type/id``: contained resources answer to their container."""
    aliases: dict[str, str] = {}
    for key, resource in record.resources.items():
        for contained in resource.get("contained", ()):
            if isinstance(contained, dict) and contained.get("id"):
                aliases[f"{key}#{contained['id']}"] = key
    return aliases


def reference_type_and_id(reference: str) -> tuple[str, str] | None:
    """``(Type, id)`` from a relative or absolute literal reference, ignoring ``/_history/n``."""
    if reference.startswith(("#", "urn:")) or "?" in reference:
        return None
    path = reference.split("/_history/")[0].rstrip("/")
    parts = path.split("/")
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]
