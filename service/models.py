"""The service's request and response bodies (what /openapi.json publishes).

A case's id is the service's own (a random UUID): it names no patient, so it may appear in logs,
links and the access log.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from medboard.models import CaseSummary
from medboard.orchestrator.case import check_iso_date

CaseStatus = Literal["queued", "running", "done", "failed"]

#: FHIR R4 `id`: 1–64 of letters, digits, '-' and '.'.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class ErrorBody(BaseModel):
    """Every error the service returns: one line, naming where the problem is, quoting no value."""

    detail: str


class CaseAccepted(BaseModel):
    id: str = Field(description="The case's id: poll GET /cases/{id}.")
    status: Literal["queued"] = "queued"


class CaseState(BaseModel):
    id: str
    status: CaseStatus
    error: str | None = Field(default=None, description="Why the case failed (one line), when it did.")
    summary: CaseSummary | None = Field(default=None, description="The verified summary, when done.")


class FhirServerCase(BaseModel):
    """``POST /cases`` with a patient on a FHIR server instead of a Bundle."""

    model_config = ConfigDict(extra="forbid")

    fhir_server: str = Field(description="FHIR R4 base URL; must be on MEDBOARD_SERVICE_FHIR_SERVERS.")
    patient: str = Field(description="The patient's id (or Patient/id) on that server.")
    question: str | None = Field(default=None, max_length=2000, description="The board question.")
    case_date: str | None = Field(default=None, description="The case's 'now' (FHIR date).")
    access_token: SecretStr | None = Field(
        default=None, description="A bearer token for the FHIR server (never logged or stored)."
    )

    @field_validator("patient")
    @classmethod
    def _fhir_id(cls, value: str) -> str:
        value = value.removeprefix("Patient/")
        if not FHIR_ID.match(value):
            raise ValueError("must be a FHIR id (1-64 letters, digits, '-' or '.')")
        return value

    @field_validator("case_date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        return check_iso_date(value)

    @field_validator("fhir_server")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
