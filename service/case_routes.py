"""``POST /cases`` and ``GET /cases/{id}``: a case in, its verified summary out, asynchronously.

A posted Bundle is loaded before the 202 (so a bad one is a 422 naming the entry and the
problem, with nothing queued); a ``{"fhir_server", "patient"}`` request is checked (shape, the
server on the allowlist) before the 202 and pulled in the background — its failure is the case's
``error``. The body is read by `medboard.service.bodies` (bounded parse, one-line refusals).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import ValidationError

from medboard.errors import FhirInputError, MedboardInputError
from medboard.service.bodies import BODY, one_line, read_json, refuse
from medboard.service.cases import ServiceBusy
from medboard.service.models import CaseAccepted, CaseState, ErrorBody, FhirServerCase
from medboard.service.records import case_from_record, check_allowed, load_bundle
from medboard.service.state import ServiceState, service_state

#: Seconds a 503 asks the client to wait before it tries again.
RETRY_AFTER_S = 5

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Not JSON (one line: where and why).",
        401: "Missing or invalid API token.",
        413: "Body over the cap.",
        415: "Not a JSON content type.",
        422: "JSON, but not a valid Bundle or case request (one line: where and why).",
        503: "Too many cases queued; retry after the Retry-After seconds.",
    }.items()
}

#: The request body, documented by hand: the route reads it itself (see `medboard.service.bodies`).
CASE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 Bundle (or resource), or a patient on an allowlisted FHIR server.",
        "content": {
            media: {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "title": "FHIR Bundle",
                            "required": ["resourceType"],
                            "properties": {"resourceType": {"type": "string", "example": "Bundle"}},
                        },
                        {"$ref": "#/components/schemas/FhirServerCase"},
                    ]
                }
            }
            for media in ("application/fhir+json", "application/json")
        },
    }
}


def case_router(auth: Any) -> APIRouter:
    router = APIRouter(tags=["cases"], dependencies=[Depends(auth)])

    @router.post(
        "/cases",
        status_code=202,
        response_model=CaseAccepted,
        responses=ERRORS,
        openapi_extra=CASE_BODY_DOC,
        summary="Submit a case: a FHIR Bundle, or a patient on a FHIR server",
    )
    async def submit_case(
        request: Request,
        state: Annotated[ServiceState, Depends(service_state)],
        question: Annotated[str | None, Query(max_length=2000, description="The board question.")] = None,
        case_date: Annotated[str | None, Query(description="The case's 'now' (FHIR date).")] = None,
        patient: Annotated[
            str | None, Query(description="Patient id, when the Bundle holds several.")
        ] = None,
    ) -> CaseAccepted:
        body = await read_json(request, drop_nulls=True)
        if not isinstance(body, dict):
            raise refuse(422, f'{BODY}: expected a FHIR Bundle or {{"fhir_server", "patient"}} object')
        if "resourceType" in body:
            return await _submit_bundle(state, body, question, _case_date(case_date), patient)
        try:
            wanted = FhirServerCase.model_validate(body)
        except ValidationError as error:
            raise refuse(422, one_line(error)) from None
        return _submit_pull(state, wanted)

    @router.get(
        "/cases/{case_id}",
        response_model=CaseState,
        responses={404: {"model": ErrorBody, "description": "No such case."}, 401: ERRORS[401]},
        summary="A case's status and, when done, its verified CaseSummary",
    )
    async def get_case(case_id: str, state: Annotated[ServiceState, Depends(service_state)]) -> Response:
        case = state.store.get(case_id)
        if case is None:
            raise refuse(404, "no such case (unknown id, or removed to keep the newest cases)")
        current = case.state()
        # `error` and `summary` are left out until they exist; inside the summary every field is
        # kept (nulls included), so it is the same JSON as `medboard run`'s summary.json.
        absent = {name for name in ("error", "summary") if getattr(current, name) is None}
        return Response(content=current.model_dump_json(exclude=absent), media_type="application/json")

    return router


async def _submit_bundle(
    state: ServiceState,
    bundle: dict[str, Any],
    question: str | None,
    case_date: str | None,
    patient: str | None,
) -> CaseAccepted:
    try:
        record = await load_bundle(bundle, patient=patient, name=BODY)
    except FhirInputError as error:
        raise refuse(422, error.describe()) from None
    except MedboardInputError as error:  # a cap (entries, text) met while loading
        raise refuse(422, error.describe()) from None

    async def prepare() -> Any:  # runs in the case's task, after `case` is bound below
        return await case_from_record(case.id, record, question=question, case_date=case_date)

    case = _submit(state, "bundle", prepare)
    return CaseAccepted(id=case.id)


def _submit_pull(state: ServiceState, wanted: FhirServerCase) -> CaseAccepted:
    try:
        server = check_allowed(wanted.fhir_server, state.settings.fhir_servers)
    except MedboardInputError as error:
        raise refuse(422, f"{BODY}: {error.describe()}") from None
    token = wanted.access_token.get_secret_value() if wanted.access_token else None

    async def prepare() -> Any:
        bundle = await state.fetcher(server, wanted.patient, f"Bearer {token}" if token else None)
        record = await load_bundle(bundle, patient=wanted.patient, name="pulled record")
        return await case_from_record(case.id, record, question=wanted.question, case_date=wanted.case_date)

    case = _submit(state, "fhir_server", prepare)
    return CaseAccepted(id=case.id)


def _submit(state: ServiceState, kind: str, prepare: Any) -> Any:
    try:
        return state.queue.submit(kind, prepare)
    except ServiceBusy:
        raise _busy() from None


def _busy() -> HTTPException:
    return HTTPException(
        status_code=503,
        detail="too many cases queued or running; try again later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _case_date(value: str | None) -> str | None:
    from medboard.orchestrator.case import check_iso_date

    try:
        return check_iso_date(value)
    except ValueError as error:
        raise refuse(422, f"case_date: {error}") from None
