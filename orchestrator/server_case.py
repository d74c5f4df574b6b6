"""Load a case from a FHIR server: pull the patient's record, then read it like a bundle file.

``medboard run --fhir-server URL --patient ID`` (and ``record`` / ``reconcile``) come here instead
of `medboard.orchestrator.case.load_case`. The pull (`medboard.tools.fhir_server.pull_patient`)
brings back plain resources; they go through `medboard.tools.fhir.load_record` as one collection
Bundle, so a server record meets exactly the validation, caps and warnings a bundle file does.
The `PulledRecord` is returned beside the `CaseInput`: the CLI keeps its resources next to the
summary (``record.ndjson``) so a reader can see what the summary was made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from medboard.agents.case import CaseInput

if TYPE_CHECKING:
    import httpx

    from medboard.tools.fhir_server import FhirServerSettings, PulledRecord


@dataclass
class ServerCase:
    """A case pulled from a FHIR server, and the pull it came from."""

    case: CaseInput
    pulled: PulledRecord


async def load_server_case(
    server: str,
    patient: str,
    *,
    auth: httpx.Auth | None = None,
    settings: FhirServerSettings | None = None,
    question: str | None = None,
    lenient: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ServerCase:
    """Pull `patient` (``id`` or ``Patient/id``) from the FHIR server at `server` (its base URL).

    Credentials: `auth` if given, else those `settings` describe (default: the ``MEDBOARD_FHIR_*``
    environment). The case id is the patient id; the record's source is the server's URL
    without credentials.
    """
    from medboard.tools.fhir import load_record
    from medboard.tools.fhir_server import FhirClient, FhirServerSettings, pull_patient

    settings = settings or FhirServerSettings.load()
    client = (
        settings.client(server, transport=transport)
        if auth is None
        else FhirClient(
            server,
            auth,
            timeout_s=settings.timeout,
            max_retries=settings.retries,
            page_size=settings.page_size,
            max_concurrency=settings.concurrency,
            max_retry_after_s=settings.max_retry_after,
            transport=transport,
        )
    )
    async with client:
        pulled = await pull_patient(client, patient)
    record = load_record(
        pulled.to_bundle(), patient=pulled.patient_id, lenient=lenient, name=f"FHIR server {pulled.server}"
    )
    record.warnings.extend(pulled.warnings)
    case = CaseInput(
        case_id=pulled.patient_id,
        record=record,
        question=question,
        source=f"{pulled.server} {pulled.patient_ref}",
    )
    return ServerCase(case=case, pulled=pulled)
