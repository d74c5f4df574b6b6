"""What can go wrong writing a summary back, as one typed hierarchy.

::

    MedboardError
     ├── WriteBackInputError (a MedboardInputError)   the caller's input cannot be written:    exit 2
     │                                                 a patient reference that is not
     │                                                 ``Patient/<id>``, or a summary about
     │                                                 another patient than the one named
     └── WriteBackError                                base of the write-back's own failures
          ├── WriteBackValidationError                 a resource medboard built fails FHIR R4    exit 1
          │                                            validation (fhir.resources, narrative,
          │                                            invariants): medboard's bug; NOTHING was
          │                                            sent, so nothing is half-written
          └── WriteBackResponseError                   the server accepted the transaction but    exit 3
                                                       answered with something that is not its
                                                       transaction-response (wrong entry count,
                                                       a status that is neither 200 nor 201)

Transport failures (server down, 401/403, 429, a rejected transaction) are the FHIR client's
own errors (`medboard.tools.fhir_server.FhirServerError`, exit 3) and pass through unchanged:
the transaction is one request, so the server either applied all of it or none.

Messages are one line and never carry patient data: they name the resource type, the element
path and the problem, never the offending value (it may be record text).
"""

from __future__ import annotations

from medboard.errors import MedboardError, MedboardInputError


class WriteBackInputError(MedboardInputError):
    """The summary or the patient reference cannot be written as asked (exit 2)."""


class WriteBackError(MedboardError):
    """Base of the write-back's own failures."""


class WriteBackValidationError(WriteBackError):
    """A resource medboard built is not valid FHIR R4: a bug in medboard; nothing was sent."""

    exit_code = 1

    def __init__(self, problem: str, *, resource_type: str, location: str | None = None) -> None:
        self.problem = problem
        self.resource_type = resource_type
        self.location = location
        where = f"{resource_type}.{location}" if location else resource_type
        super().__init__(
            f"write-back: the {resource_type} medboard built is not valid FHIR R4 at {where}: {problem} "
            "(a bug in medboard; nothing was sent to the server)"
        )


class WriteBackResponseError(WriteBackError):
    """The server's answer to the transaction is not a usable transaction-response (exit 3)."""

    exit_code = 3

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"write-back: the FHIR server's transaction response is unusable: {problem}")
