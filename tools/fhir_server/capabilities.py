"""What a server's CapabilityStatement (``GET /metadata``) tells the client about how to pull.

The statement is read first: it decides the strategy. A server that lists the ``everything``
operation on Patient gets one ``Patient/{id}/$everything`` (paged); any other gets a read of the
Patient and one search per resource type, and only for the types the statement lists with a
``search-type`` interaction (asking a server for a type it does not hold is an error on some
servers and a wasted round trip on all).

A statement that lists no resources at all (some servers publish a minimal one) is taken as "no
information": every type is tried. The statement is plain JSON here (read, not validated with
fhir.resources): a server's statement often carries extensions and vendor fields that a strict
model refuses, and the client needs three fields of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The canonical URL of the Patient $everything OperationDefinition (R4).
EVERYTHING_DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"


@dataclass(frozen=True)
class Capabilities:
    """The parts of a CapabilityStatement the pull uses."""

    #: Resource types the server lists for search (None: the statement lists none, so unknown).
    searchable: frozenset[str] | None
    #: Whether Patient offers ``$everything``.
    patient_everything: bool
    #: The FHIR version the server declares (``4.0.1``), if any.
    fhir_version: str | None = None

    def can_search(self, resource_type: str) -> bool:
        return self.searchable is None or resource_type in self.searchable


def read_capabilities(statement: dict[str, Any]) -> Capabilities:
    """The `Capabilities` of a CapabilityStatement (server-mode ``rest`` entries)."""
    searchable: set[str] = set()
    listed = False
    everything = False
    rests = statement.get("rest")
    for rest in rests if isinstance(rests, list) else []:
        if not isinstance(rest, dict) or rest.get("mode", "server") != "server":
            continue
        resources = rest.get("resource")
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict) or not isinstance(resource.get("type"), str):
                continue
            listed = True
            kind = resource["type"]
            interactions = resource.get("interaction")
            codes = (
                {i.get("code") for i in interactions if isinstance(i, dict)}
                if isinstance(interactions, list)
                else None
            )
            if codes is None or "search-type" in codes:  # no interactions listed: assume search
                searchable.add(kind)
            if kind == "Patient" and _offers_everything(resource.get("operation"), by_name=True):
                everything = True
        # Some servers list it among the system-level operations: there only its definition
        # says which `everything` it is (Group and Encounter have one too).
        if _offers_everything(rest.get("operation"), by_name=False):
            everything = True
    version = statement.get("fhirVersion")
    return Capabilities(
        searchable=frozenset(searchable) if listed else None,
        patient_everything=everything,
        fhir_version=version if isinstance(version, str) else None,
    )


def _offers_everything(operations: Any, *, by_name: bool) -> bool:
    if not isinstance(operations, list):
        return False
    for operation in operations:
        if not isinstance(operation, dict):
            continue
        name = operation.get("name")
        definition = operation.get("definition")
        if by_name and name in ("everything", "$everything", "patient-everything"):
            return True
        if isinstance(definition, str) and definition.split("|", 1)[0].rstrip("/").endswith(
            "OperationDefinition/Patient-everything"
        ):
            return True
    return False
