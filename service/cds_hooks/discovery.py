"""``GET /cds-services``: the CDS Hooks 2.0 discovery document (one ``patient-view`` service).

Open to everyone, like health and the OpenAPI document: it describes the service and holds no
data. (The spec lets a CDS client send its JWT here too; the service does not require it.)
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from medboard.service.cds_hooks.prefetch import PREFETCH

SERVICE_ID = "medboard-patient-view"
DISCOVERY_PATH = "/cds-services"
SERVICE_PATH = f"{DISCOVERY_PATH}/{SERVICE_ID}"
FEEDBACK_PATH = f"{SERVICE_PATH}/feedback"


class CdsService(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str]


class Discovery(BaseModel):
    services: list[CdsService]


PATIENT_VIEW = CdsService(
    hook="patient-view",
    id=SERVICE_ID,
    title="medboard case summary",
    description=(
        "A cross-checked, cited summary of the patient's record: a headline and the conflicts between "
        "sources in the record, with a link to the full verified summary. Not a diagnostic device."
    ),
    prefetch=PREFETCH,
)


def discovery_router() -> APIRouter:
    router = APIRouter(tags=["cds-hooks"])

    @router.get(DISCOVERY_PATH, response_model=Discovery, summary="CDS Hooks discovery")
    async def discovery() -> Discovery:
        return Discovery(services=[PATIENT_VIEW])

    return router
