"""What can go wrong talking to a FHIR server, as one typed hierarchy (like httpx's).

::

    MedboardError
     └── FhirServerError            base: every error of the FHIR client               exit 3
          ├── FhirServerUnavailable  refused/dropped connections, timeouts, 5xx after retries  exit 3
          ├── FhirAuthError          401/403, a token endpoint that refuses the client,
          │                          no SMART configuration to discover                  exit 3
          ├── FhirRateLimited        429 after retries, or a Retry-After over the cap    exit 3
          ├── FhirRequestRejected    any other 4xx (400, 405, 409, 412, 422, …)           exit 3
          ├── FhirNotFound           404 on a read: an unknown patient or resource       exit 2
          │   (also a MedboardInputError)
          └── FhirResponseError      a body the client cannot use: not JSON, a searchset
              (also a MedboardInputError)  that is not a searchset, a body over the size cap,
                                     a `next` link that leaves the server                exit 2

Why those exit codes: 3 means "the remote service is unusable" (as `ModelEndpointError`): the
server is down, overloaded, or refuses us, and nothing about the user's input would change that.
An unknown patient id is plainly bad input (2). A malformed or oversized response is treated
like a malformed or oversized *file*: the server's answer is the record medboard was given, and
a bundle file with the same defect already exits 2 (`FhirInputError`, `LimitExceededError`); so
the two ways of reading a record fail alike, and `except MedboardInputError` catches both.

Every message is one line naming the server (its base URL, credentials and query values
removed), the request (method and path relative to the base; query values other than the patient
reference and paging sizes shown as ``***``) and the problem. Server-provided error text
(OperationOutcome diagnostics) is never put in the message, since it can echo patient data; it is
logged at DEBUG only.
"""

from __future__ import annotations

from medboard.errors import MedboardError, MedboardInputError


class FhirServerError(MedboardError):
    """Base of the FHIR client's errors: ``FHIR server URL: METHOD path: problem``."""

    exit_code = 3

    def __init__(self, problem: str, *, server: str, request: str | None = None) -> None:
        self.problem = problem
        self.server = server
        self.request = request
        # The same attributes as `MedboardInputError` (source, location, problem), so callers that
        # word a `MedboardInputError` read these alike.
        self.source: str | None = f"FHIR server {server}"
        self.location: str | None = request
        # Not super().__init__: in the input-error subclasses the next class in the MRO is
        # `MedboardInputError`, whose __init__ would rebuild the message from `problem` alone.
        Exception.__init__(self, self.describe())

    def describe(self) -> str:
        parts = [p for p in (self.source, self.location, self.problem) if p]
        return ": ".join(parts)


class FhirServerUnavailable(FhirServerError):
    """The server cannot be reached or keeps failing: connection refused or dropped, timeout,
    HTTP 5xx after the retries."""


class FhirAuthError(FhirServerError):
    """The server or its token endpoint refuses the credentials (401/403, an OAuth error), or
    the SMART configuration needed to find the token endpoint is missing."""


class FhirRateLimited(FhirServerError):
    """HTTP 429 after the retries, or a Retry-After longer than the client will wait."""


class FhirRequestRejected(FhirServerError):
    """Another 4xx: the server understood the request and refuses it (a transaction it will not
    process, a search parameter it does not know, an operation it does not offer)."""


class FhirNotFound(FhirServerError, MedboardInputError):
    """HTTP 404 (or 410) on a read: no such patient or resource on this server."""

    exit_code = 2


class FhirResponseError(FhirServerError, MedboardInputError):
    """A response that cannot be used as FHIR: not JSON, the wrong shape (a searchset that is
    not one), over a size cap, or a paging link to another server."""

    exit_code = 2
