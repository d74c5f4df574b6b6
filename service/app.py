"""`create_app(settings)`: the FastAPI application — cases over HTTP and CDS Hooks.

Routes and who may call them:

| route | auth |
| --- | --- |
| ``GET /healthz``, ``GET /cds-services``, ``/openapi.json``, ``/docs`` | none (no data) |
| ``POST /cases``, ``GET /cases/{id}`` | API token (``Authorization: Bearer``; `auth`) |
| ``POST /cds-services/medboard-patient-view`` (+ ``/feedback``) | the CDS client's JWT (`client_jwt`) |

Around every route: `BodyLimitMiddleware` (413 before an oversized body is read) and error
handlers that answer ``{"detail": "<one line>"}`` — FastAPI's default validation error lists
every problem with the offending input echoed, and input here may be patient data.

`runner` and `fetcher` are the seams tests use: how a case runs (default: the case flow with the
configured model) and how a record is pulled from a FHIR server (default: `medboard.tools.fhir_server`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medboard import __version__
from medboard.service.auth import ApiTokenAuth
from medboard.service.body_limit import BodyLimitMiddleware
from medboard.service.case_routes import case_router
from medboard.service.cds_hooks.client_jwt import ClientJwtVerifier
from medboard.service.cds_hooks.discovery import discovery_router
from medboard.service.cds_hooks.patient_view import patient_view_router
from medboard.service.engine import CaseEngine, CaseRunner
from medboard.service.models import Health
from medboard.service.records import Fetcher, pull_bundle
from medboard.service.settings import ServiceSettings
from medboard.service.state import ServiceState

DESCRIPTION = (
    "Cross-checked, cited case summaries from FHIR records: submit a case, poll for its verified "
    "CaseSummary; or call the CDS Hooks patient-view service from an EHR. Not a diagnostic device."
)


def create_app(
    settings: ServiceSettings, *, runner: CaseRunner | None = None, fetcher: Fetcher | None = None
) -> FastAPI:
    """The service as an ASGI app. Its case engine starts with the app's lifespan, or earlier
    through ``app.state.medboard.start()`` (what `medboard serve` does, to fail before binding)."""
    state = ServiceState(
        settings=settings,
        engine=CaseEngine(
            model=settings.model, replay=settings.replay, run_budget_s=settings.run_budget_s, runner=runner
        ),
        fetcher=fetcher or pull_bundle,
        verifier=ClientJwtVerifier(
            settings.cds_issuers,
            algorithms=settings.cds_algorithms,
            max_lifetime_s=settings.jwt_max_lifetime_s,
            leeway_s=settings.jwt_leeway_s,
        ),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        if not state.engine.started:
            await asyncio.to_thread(state.start)
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="medboard", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.medboard = state
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]

    @app.get("/healthz", response_model=Health, tags=["service"], summary="Liveness")
    async def healthz() -> Health:
        return Health()

    app.include_router(case_router(ApiTokenAuth(settings)))
    app.include_router(discovery_router())
    app.include_router(patient_view_router())
    _publish_request_bodies(app)
    return app


def _publish_request_bodies(app: FastAPI) -> None:
    """Add the request-body models the routes read themselves (`medboard.service.bodies`) to the
    OpenAPI components, where the routes' ``openapi_extra`` request bodies refer to them."""
    from fastapi.openapi.utils import get_openapi

    from medboard.service.cds_hooks.patient_view import CdsRequest, FeedbackRequest
    from medboard.service.models import FhirServerCase

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (FhirServerCase, CdsRequest, FeedbackRequest):
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in body.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components.setdefault(model.__name__, body)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """A bad path or query parameter: the first problem, in one line, without the input."""
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(
        str(part) for part in first.get("loc", ()) if str(part).isidentifier() or isinstance(part, int)
    )
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return JSONResponse(status_code=422, content={"detail": f"{where}: {message}" if where else message})


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(
        status_code=error.status_code, content={"detail": str(error.detail)}, headers=error.headers or None
    )
