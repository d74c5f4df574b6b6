"""From a request to a loaded case: a posted Bundle, or a patient pulled from a FHIR server.

Loading and reconciling a record is CPU work (≈1 s for the largest shared Synthea record), so it
runs in a worker thread, never on the server's loop. The clinical picture is built right after
loading (`picture_of` caches it per record and case date): the flow needs it first thing, and a
CDS call whose time budget runs out answers from it.

The FHIR server path goes through a `Fetcher` — ``async (server_url, patient_id,
authorization_header | None) -> Bundle dict`` — injectable for tests; the default pulls with
`medboard.tools.fhir_server` (imported on first use). A server is used only if it is on the
configured allowlist (`ServiceSettings.fhir_servers`): an API client must not be able to make
the service fetch arbitrary URLs inside its network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from medboard.errors import MedboardInputError

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.tools.fhir.record import PatientRecord

Fetcher = Callable[[str, str, "str | None"], Awaitable[dict[str, Any]]]


class ServerNotAllowed(MedboardInputError):
    """A FHIR server that is not on the service's allowlist."""


async def pull_bundle(server_url: str, patient_id: str, authorization: str | None) -> dict[str, Any]:
    """The default `Fetcher`: the patient's record from `server_url` as one collection Bundle."""
    from medboard.tools.fhir_server import BearerToken, FhirClient, pull_patient

    token = authorization.removeprefix("Bearer ").strip() if authorization else None
    auth = BearerToken(token) if token else None
    async with FhirClient(server_url, auth=auth) as client:
        pulled = await pull_patient(client, patient_id)
    bundle: dict[str, Any] = pulled.to_bundle()
    return bundle


def check_allowed(server_url: str, allowlist: list[str]) -> str:
    """`server_url` without a trailing slash, if it is one of `allowlist`; else `ServerNotAllowed`."""
    base = server_url.rstrip("/")
    if base not in allowlist:
        raise ServerNotAllowed(
            "this FHIR server is not on the service's allowlist (MEDBOARD_SERVICE_FHIR_SERVERS)",
            source="fhir_server",
        )
    return base


async def load_bundle(bundle: dict[str, Any], *, patient: str | None, name: str) -> PatientRecord:
    """`load_record` of a parsed Bundle (or resource), in a worker thread."""
    from medboard.tools.fhir import load_record

    return await asyncio.to_thread(load_record, bundle, patient=patient, name=name)


async def case_from_record(
    case_id: str, record: PatientRecord, *, question: str | None = None, case_date: str | None = None
) -> CaseInput:
    """The `CaseInput` of a loaded record, its clinical picture built (in a worker thread)."""
    from medboard.agents.case import CaseInput
    from medboard.tools.reconcile import picture_of

    case = CaseInput(case_id=case_id, record=record, question=question, case_date=case_date, source="service")
    await asyncio.to_thread(picture_of, record, case_date=case.effective_date)
    return case
