"""``POST /cds-services/medboard-patient-view`` (and its ``/feedback``): cards within a time budget.

One call, start to answer:

1. the CDS client's JWT is verified (`client_jwt`; 401 ``invalid token`` otherwise) before the
   body is read;
2. the body is the spec's request (``hook``, ``hookInstance``, ``fhirServer``,
   ``fhirAuthorization``, ``context.userId``/``patientId``, ``prefetch``), validated by pydantic —
   400 when it is not JSON, 422 when it is not that shape;
3. the record: the prefetch when it is complete (`prefetch`); else pulled through the fetcher
   from ``fhirServer`` with the ``fhirAuthorization`` access token (the server must be on the
   allowlist); else 412;
4. the case is registered like a ``POST /cases`` one (so its link, ``GET /cases/{id}``, works)
   and the call waits for its verified summary until the time budget (`cds_budget_s`) is nearly
   spent; then it answers with the summary's cards, or with what is ready — the reconciled
   picture's conflicts and a card saying the full summary is still being prepared, with its link.

The budget is counted from the moment the request arrived; a small reserve is kept for building
and sending the answer. Nothing about the patient is logged: the log has the case's own id, the
outcome and the timing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from medboard.errors import MedboardInputError
from medboard.service.bodies import one_line, read_json, refuse
from medboard.service.cases import ServiceBusy
from medboard.service.cds_hooks.cards import CdsResponse, early_conflicts, pending_cards, summary_cards
from medboard.service.cds_hooks.client_jwt import InvalidClientToken, log_refusal
from medboard.service.cds_hooks.discovery import FEEDBACK_PATH, SERVICE_PATH
from medboard.service.cds_hooks.prefetch import missing_keys, prefetch_bundle
from medboard.service.models import FHIR_ID, ErrorBody
from medboard.service.records import case_from_record, check_allowed, load_bundle
from medboard.service.state import ServiceState, service_state

log = logging.getLogger(__name__)

#: Seconds of the budget kept for building and sending the answer.
ANSWER_RESERVE_S = 0.15


class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: SecretStr
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("must be Bearer")
        return value


class PatientViewContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    userId: str = Field(min_length=1)
    patientId: str
    encounterId: str | None = None

    @field_validator("patientId")
    @classmethod
    def _fhir_id(cls, value: str) -> str:
        if not FHIR_ID.match(value):
            raise ValueError("must be a FHIR id (1-64 letters, digits, '-' or '.')")
        return value


class CdsRequest(BaseModel):
    """The spec's hook request for ``patient-view``."""

    model_config = ConfigDict(extra="allow")

    hook: Literal["patient-view"]
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: PatientViewContext
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> CdsRequest:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization is given without fhirServer")
        return self


class Feedback(BaseModel):
    model_config = ConfigDict(extra="allow")

    card: str
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: str
    acceptedSuggestions: list[dict[str, Any]] | None = None
    overrideReason: dict[str, Any] | None = None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    feedback: list[Feedback] = Field(min_length=1)


class CdsClientAuth:
    """The dependency that admits a call whose JWT names one of `paths` (under the public URL)."""

    def __init__(self, *paths: str) -> None:
        self.paths = paths

    async def __call__(
        self, request: Request, state: Annotated[ServiceState, Depends(service_state)]
    ) -> None:
        audience = [f"{state.settings.base_url}{path}" for path in self.paths]
        try:
            await state.verifier.verify(request.headers.get("authorization"), audience)
        except InvalidClientToken as error:
            log_refusal(error, request.url.path)
            raise HTTPException(
                status_code=401,
                detail="invalid token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Not JSON."},
    401: {"model": ErrorBody, "description": "The CDS client's JWT is missing or invalid."},
    412: {"model": ErrorBody, "description": "Prefetch incomplete and no FHIR server access to complete it."},
    422: {"model": ErrorBody, "description": "Not a patient-view request (one line: where and why)."},
}


def _body_doc(model: str, description: str) -> dict[str, Any]:
    """The request body as documented (the route reads it itself, see `medboard.service.bodies`)."""
    ref = {"schema": {"$ref": f"#/components/schemas/{model}"}}
    return {
        "requestBody": {"required": True, "description": description, "content": {"application/json": ref}}
    }


def patient_view_router() -> APIRouter:
    router = APIRouter(tags=["cds-hooks"])

    @router.post(
        SERVICE_PATH,
        response_model=CdsResponse,
        response_model_exclude_none=True,
        responses=ERRORS,
        dependencies=[Depends(CdsClientAuth(SERVICE_PATH))],
        openapi_extra=_body_doc("CdsRequest", "The CDS Hooks 2.0 request of the patient-view hook."),
        summary="patient-view: the case's headline and conflicts as cards",
    )
    async def patient_view(
        request: Request, state: Annotated[ServiceState, Depends(service_state)]
    ) -> CdsResponse:
        started = time.monotonic()
        deadline = started + state.settings.cds_budget_s - ANSWER_RESERVE_S
        body = await read_json(request, drop_nulls=False)
        try:
            call = CdsRequest.model_validate(body)
        except ValidationError as error:
            raise refuse(422, one_line(error)) from None
        response = await _answer(state, call, deadline)
        log.info(
            "CDS patient-view answered with %d card(s) in %.2f s",
            len(response.cards),
            time.monotonic() - started,
        )
        return response

    @router.post(
        FEEDBACK_PATH,
        responses={k: v for k, v in ERRORS.items() if k != 412},
        dependencies=[Depends(CdsClientAuth(FEEDBACK_PATH, SERVICE_PATH))],
        openapi_extra=_body_doc("FeedbackRequest", "CDS Hooks feedback on the cards returned."),
        summary="Feedback on cards (accepted / overridden)",
    )
    async def feedback(request: Request) -> dict[str, Any]:
        body = await read_json(request, drop_nulls=False)
        try:
            received = FeedbackRequest.model_validate(body)
        except ValidationError as error:
            raise refuse(422, one_line(error)) from None
        outcomes = [item.outcome for item in received.feedback]
        # Counts only: a user's override comment may name the patient.
        log.info(
            "CDS feedback: %d accepted, %d overridden",
            outcomes.count("accepted"),
            outcomes.count("overridden"),
        )
        return {}

    return router


async def _answer(state: ServiceState, call: CdsRequest, deadline: float) -> CdsResponse:
    patient_id = call.context.patientId
    missing = missing_keys(call.prefetch)
    record = None
    if not missing:
        try:
            bundle = prefetch_bundle(call.prefetch or {}, patient_id)
            record = await load_bundle(bundle, patient=patient_id, name="prefetch")
        except MedboardInputError as error:
            raise refuse(422, error.describe()) from None
        loaded = record

        async def prepare() -> Any:
            return await case_from_record(case.id, loaded)

    else:
        if not (call.fhirServer and call.fhirAuthorization):
            raise refuse(
                412,
                f"prefetch lacks {', '.join(missing)} and the call gives no fhirServer with "
                "fhirAuthorization to fetch the record",
            )
        try:
            server = check_allowed(call.fhirServer, state.settings.fhir_servers)
        except MedboardInputError:
            raise refuse(
                412, "prefetch is incomplete and fhirServer is not on the service's allowlist"
            ) from None
        token = call.fhirAuthorization.access_token.get_secret_value()

        async def prepare() -> Any:
            bundle = await state.fetcher(server, patient_id, f"Bearer {token}")
            pulled = await load_bundle(bundle, patient=patient_id, name="fhirServer record")
            return await case_from_record(case.id, pulled)

    try:
        case = state.queue.submit("cds", prepare)
    except ServiceBusy:
        if record is None:
            raise HTTPException(status_code=503, detail="too many cases queued or running") from None
        conflicts = await _conflicts(await case_from_record("cds-busy", record))
        return pending_cards(conflicts, None, reason="the service is busy: the full summary was not started")
    link = f"{state.settings.base_url}/cases/{case.id}"
    try:
        case_input = await asyncio.wait_for(asyncio.shield(case.prepared), _left(deadline))
    except TimeoutError:
        return pending_cards(
            None, link, reason="the record is still being read; the full summary will follow"
        )
    except Exception as error:
        reason = error.describe() if isinstance(error, MedboardInputError) else type(error).__name__
        log.info("CDS case %s: the record could not be fetched (%s)", case.id, type(error).__name__)
        raise refuse(412, f"the record could not be fetched from fhirServer: {reason}") from None
    try:
        summary = await asyncio.wait_for(asyncio.shield(case.finished), _left(deadline))
    except TimeoutError:
        conflicts = await _conflicts(case_input)
        return pending_cards(conflicts, link, reason="the full summary is still being prepared")
    except Exception:
        conflicts = await _conflicts(case_input)
        return pending_cards(conflicts, link, reason="the full summary failed; the link says why")
    return summary_cards(summary, link)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


async def _conflicts(case_input: Any) -> Any:
    """The case's conflicts known so far (its picture was built while preparing: a cache hit)."""
    from medboard.tools.reconcile import picture_of

    def compute() -> Any:
        picture = picture_of(case_input.record, case_date=case_input.effective_date)
        return early_conflicts(case_input.record, picture)

    return await asyncio.to_thread(compute)
