"""Reading a patient's record from a FHIR R4 server (SMART Backend Services or a bearer token).

::

    from medboard.tools.fhir_server import FhirClient, SmartBackendAuth, pull_patient

    async with FhirClient("https://ehr.example/fhir/R4", auth=SmartBackendAuth(...)) as client:
        pulled = await pull_patient(client, "123")      # $everything if offered, else search
    record = load_record(pulled.to_bundle(), name=client.server)

**httpx directly, not fhirpy.** The issue allowed either; httpx won because every policy the
client needs sits at the HTTP layer, where fhirpy would hide it: a size cap on a *streamed* body
(fhirpy reads each response whole), ``Retry-After`` (seconds or HTTP date, capped) and backoff
with jitter on exactly the failures that are safe to retry (fhirpy has no retry policy), ``next``
links followed only on the same server (the token must not travel), and auth as `httpx.Auth`
objects that refresh a SMART token on a 401. httpx is already a dependency (the model layer uses
it), its `MockTransport` lets the tests drive every policy without a network, and fhirpy's typed
mode rejects the fhir.resources 8 models medboard uses anyway, leaving plain dicts — which is
what this client returns. What fhirpy would add (a query builder, resource classes) medboard
does not need: it asks for one patient's compartment, and `medboard.tools.fhir.load_record`
validates what comes back.

Modules: `errors` (the typed hierarchy and exit codes), `auth` (`BearerToken`,
`SmartBackendAuth`, `public_jwks`), `capabilities` (what ``/metadata`` says), `client`
(`FhirClient`), `pull` (`pull_patient`, `PulledRecord`), `settings` (options and
``MEDBOARD_FHIR_*`` variables), `responses` (bounded bodies, request names without patient data).
"""

from medboard.tools.fhir_server.auth import BearerToken, SmartBackendAuth, public_jwks
from medboard.tools.fhir_server.capabilities import Capabilities, read_capabilities
from medboard.tools.fhir_server.client import FhirClient
from medboard.tools.fhir_server.errors import (
    FhirAuthError,
    FhirNotFound,
    FhirRateLimited,
    FhirRequestRejected,
    FhirResponseError,
    FhirServerError,
    FhirServerUnavailable,
)
from medboard.tools.fhir_server.pull import PulledRecord, compartment_types, pull_patient
from medboard.tools.fhir_server.settings import FhirServerSettings

__all__ = [
    "BearerToken",
    "Capabilities",
    "FhirAuthError",
    "FhirClient",
    "FhirNotFound",
    "FhirRateLimited",
    "FhirRequestRejected",
    "FhirResponseError",
    "FhirServerError",
    "FhirServerSettings",
    "FhirServerUnavailable",
    "PulledRecord",
    "SmartBackendAuth",
    "compartment_types",
    "public_jwks",
    "pull_patient",
    "read_capabilities",
]
