"""The clinical picture: one reconciled view of the patient, built from every fact of the record.

A `Fact` is true of its resource; the picture says what is true of the *patient*: each clinical
concept (the patient's vital status, each cancer with its stages, biomarkers, lines and markers,
each medication ingredient, each lab series) with its reconciled state at the case date, every
source it rests on, and the conflicts between them. Specialists, the synthesizer and the verifier
read this one picture (`medboard.tools.reconcile.build_picture`); `medboard reconcile` prints it.

The JSON keys below are a contract (`medboard reconcile --json`): every ``sources`` / ``source`` is
a ``Type/id`` reference into the record.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models.claims import CurrencyStatus, Reference, StageType
from medboard.models.summary import Discrepancy


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatientStatus(_Model):
    reference: Reference | None = None
    deceased: bool = False
    deceased_date: str | None = Field(default=None, description="FHIR date of death, when recorded.")
    cause_of_death: str | None = None
    sources: list[Reference] = Field(default_factory=list)


class Stage(_Model):
    """One stage statement of one type (TNM group, or T/N/M categories), with its sources."""

    type: StageType
    group: str | None = Field(default=None, description="Stage group (e.g. `IIA`), or the TNM text.")
    date: str | None = None
    sources: list[Reference] = Field(default_factory=list)


class Result(_Model):
    """One result of a biomarker or tumour marker."""

    value: str | float | int | bool | None = None
    unit: str | None = None
    date: str | None = None
    source: Reference


class Biomarker(_Model):
    """Every result of one biomarker (by code) for one cancer; `conflict` when they disagree."""

    name: str
    code: str | None = None
    results: list[Result] = Field(default_factory=list)
    conflict: bool = False


class Marker(_Model):
    """A tumour marker that belongs to this cancer (PSA ↔ prostate, CEA ↔ colorectal, ...)."""

    name: str
    code: str | None = None
    results: list[Result] = Field(default_factory=list)


class Line(_Model):
    """A line of therapy assigned to one cancer."""

    drugs: list[str]
    start: str | None = None
    end: str | None = None
    status: CurrencyStatus = "unknown"
    sources: list[Reference] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Cancer(_Model):
    condition: Reference
    conditions: list[Reference] = Field(
        default_factory=list,
        description="Every Condition read as this cancer (a restated diagnosis, e.g. `..., TNM stage 1`).",
    )
    name: str
    kind: Literal["primary", "secondary", "unknown"] = "unknown"
    histology: str | None = None
    body_site: str | None = None
    laterality: Literal["left", "right", "bilateral"] | None = None
    clinical_status: str | None = None
    onset: str | None = None
    stages: list[Stage] = Field(default_factory=list)
    metastatic_sites: list[str] = Field(default_factory=list)
    biomarkers: list[Biomarker] = Field(default_factory=list)
    lines: list[Line] = Field(default_factory=list)
    markers: list[Marker] = Field(default_factory=list)


class Medication(_Model):
    """One ingredient, reconciled across Request, Statement, Administration and Dispense."""

    ingredient: str
    status: CurrencyStatus
    last_evidence_date: str | None = None
    reason: str = Field(description="Why this status: the deciding source, window or event.")
    sources: list[Reference] = Field(default_factory=list)


class LabPoint(_Model):
    value: float
    date: str
    source: Reference


class LabSeries(_Model):
    """One analyte in one comparable unit (mL/min and mL/min/{1.73_m2} are two series)."""

    name: str
    code: str | None = None
    unit: str | None = None
    points: list[LabPoint] = Field(default_factory=list)


class DataQuality(_Model):
    kind: str = Field(description="e.g. `implausible_value`, `after_death`, `after_case_date`.")
    description: str
    sources: list[Reference] = Field(default_factory=list)


class ClinicalPicture(_Model):
    case_date: str | None = Field(
        description="The case's 'now': the case's own date, else the latest date in the record."
    )
    patient: PatientStatus
    cancers: list[Cancer] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    labs: list[LabSeries] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    data_quality: list[DataQuality] = Field(default_factory=list)
