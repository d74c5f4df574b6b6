"""Send the write-back as ONE transaction and say what it created and what was already there.

One transaction, because FHIR applies a transaction all or nothing: a Composition never lands
without its Provenance, nor a Provenance pointing at nothing. Idempotency is the server's
conditional create (`ifNoneExist` on each entry): for each entry the transaction-response says
``201`` (created) or ``200`` (a resource matching the condition was there already, and that one
is what the other entries now point at). So a second run of the same case reports everything as
already there and writes nothing.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from medboard.models import CaseSummary
from medboard.tools.writeback.bundle import build_writeback
from medboard.tools.writeback.errors import WriteBackResponseError

log = logging.getLogger(__name__)

_STATUS = re.compile(r"^\s*(\d{3})\b")
_LOCATION = re.compile(
    r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]+)?/?$"
)


class FhirTransactionClient(Protocol):
    """What write-back needs of a FHIR client: `medboard.tools.fhir_server.FhirClient` is one.

    Only `transaction` is used to write; `search` and `read` are there for callers that check
    what was written. Positional-only, so any client whose parameters are named otherwise fits.
    """

    async def transaction(self, bundle: dict[str, Any], /) -> dict[str, Any]: ...

    async def search(self, resource_type: str, params: dict[str, str], /) -> list[dict[str, Any]]: ...

    async def read(self, resource_type: str, resource_id: str, /) -> dict[str, Any]: ...


class WrittenEntry(BaseModel):
    """One entry of the transaction, as the server answered it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource_type: str
    reference: str | None = Field(description="`Type/id` on the server (None if it did not say).")
    created: bool = Field(description="True: created now (201); False: it was there already (200).")


class WriteBackResult(BaseModel):
    """What the write-back transaction did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifier: str = Field(
        description="The summary hash: Composition.identifier value (urn:medboard:summary)."
    )
    entries: list[WrittenEntry]

    @property
    def created(self) -> list[WrittenEntry]:
        return [e for e in self.entries if e.created]

    @property
    def existing(self) -> list[WrittenEntry]:
        return [e for e in self.entries if not e.created]

    @property
    def composition(self) -> str | None:
        return next((e.reference for e in self.entries if e.resource_type == "Composition"), None)

    @property
    def provenance(self) -> str | None:
        return next((e.reference for e in self.entries if e.resource_type == "Provenance"), None)


async def write_back(
    client: FhirTransactionClient,
    summary: CaseSummary,
    *,
    patient_ref: str,
    now: datetime | None = None,
) -> WriteBackResult:
    """Write `summary` to `patient_ref`'s chart as one idempotent transaction.

    The Bundle is built and validated first (`build_writeback`): if that fails nothing is sent.
    Client errors (server down, auth, a rejected transaction) propagate unchanged.
    """
    bundle = build_writeback(summary, patient_ref=patient_ref, now=now or datetime.now(UTC))
    response = await client.transaction(bundle)
    result = read_response(bundle, response)
    log.info(
        "write-back: %d resource(s) created, %d already there", len(result.created), len(result.existing)
    )
    return result


def read_response(bundle: dict[str, Any], response: dict[str, Any]) -> WriteBackResult:
    """Pair each request entry with its transaction-response entry (FHIR keeps their order)."""
    if not isinstance(response, dict) or response.get("resourceType") != "Bundle":
        raise WriteBackResponseError("it is not a Bundle")
    requested = bundle["entry"]
    answered = response.get("entry")
    if not isinstance(answered, list) or len(answered) != len(requested):
        got = len(answered) if isinstance(answered, list) else 0
        raise WriteBackResponseError(f"{got} response entries for {len(requested)} requests")
    entries = []
    for index, (request, answer) in enumerate(zip(requested, answered, strict=True)):
        resource_type = request["resource"]["resourceType"]
        reply = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(reply, dict):
            raise WriteBackResponseError(f"entry {index} ({resource_type}) has no response")
        status = _STATUS.match(str(reply.get("status", "")))
        if status is None or status.group(1) not in ("200", "201"):
            shown = status.group(1) if status else "no status"
            raise WriteBackResponseError(f"entry {index} ({resource_type}) answered {shown}, not 200 or 201")
        entries.append(
            WrittenEntry(
                resource_type=resource_type,
                reference=_reference(reply, answer, resource_type),
                created=status.group(1) == "201",
            )
        )
    return WriteBackResult(identifier=_summary_identifier(bundle), entries=entries)


def _reference(reply: dict[str, Any], answer: dict[str, Any], resource_type: str) -> str | None:
    """``Type/id`` from the entry's `location` (relative or absolute, with or without _history),
    else from a returned resource."""
    match = _LOCATION.search(str(reply.get("location") or ""))
    if match and match["type"] == resource_type:
        return f"{match['type']}/{match['id']}"
    resource = answer.get("resource")
    if isinstance(resource, dict) and resource.get("resourceType") == resource_type and resource.get("id"):
        return f"{resource_type}/{resource['id']}"
    return None


def _summary_identifier(bundle: dict[str, Any]) -> str:
    composition = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Composition"
    )
    return str(composition["identifier"]["value"])
