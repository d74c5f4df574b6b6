"""Deterministic, typed facts extracted from a `PatientRecord`.

A `Fact` is what the tools can say about the record without a model: one resource (or one
component of it) read into a uniform shape. Values keep the source's exact number and unit;
rounding is for display only. Dates stay the source's ISO strings (FHIR allows partial dates such
as ``2019`` or ``2019-04``), so no precision is invented.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models.evidence import EvidenceRef

Laterality = Literal["left", "right", "bilateral"]


class FactKind(StrEnum):
    patient = "patient"
    condition = "condition"
    staging = "staging"
    lab = "lab"
    vital = "vital"
    tumor_marker = "tumor_marker"
    genomic = "genomic"
    observation = "observation"
    medication = "medication"
    procedure = "procedure"
    report = "report"
    document = "document"
    imaging_study = "imaging_study"
    performance_status = "performance_status"


class Coding(BaseModel):
    """One code from a terminology (LOINC, SNOMED CT, RxNorm, ICD-10, AJCC, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str | None = None
    code: str | None = None
    display: str | None = None


class ReferenceRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float | None = None
    high: float | None = None
    unit: str | None = None
    text: str | None = None


class Fact(BaseModel):
    """One deterministic fact from the record, citing exactly one `EvidenceRef`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id: the cited reference, plus `#component[i]` for components.")
    kind: FactKind
    label: str = Field(description="Human-readable name of what the fact is about.")
    codes: list[Coding] = Field(default_factory=list, description="The fact's own codes (what it is).")
    subject: str | None = Field(default=None, description="`Patient/id` the fact belongs to.")

    value: float | int | bool | str | None = Field(
        default=None, description="The source's value, exactly (numbers unrounded)."
    )
    unit: str | None = Field(default=None, description="Unit as written in the source.")
    unit_code: str | None = Field(default=None, description="UCUM code of the unit, when given.")
    value_codes: list[Coding] = Field(
        default_factory=list, description="Coded value (e.g. a TNM category, `Positive`)."
    )
    comparator: str | None = Field(default=None, description="`<`, `<=`, `>=`, `>` on a quantity.")
    reference_range: ReferenceRange | None = None
    interpretation: str | None = Field(default=None, description="Interpretation code, e.g. `H`, `LL`.")
    abnormal: bool | None = Field(
        default=None, description="True when flagged or outside the reference range; None if unknown."
    )

    status: str | None = Field(default=None, description="Resource status / clinical status.")
    verification_status: str | None = None
    date: str | None = Field(default=None, description="Effective/onset/authored date (source ISO).")
    end_date: str | None = Field(default=None, description="End of a period (abatement, stop).")

    body_site: str | None = None
    laterality: Laterality | None = None
    text: str | None = Field(default=None, description="Free text: conclusion, note body, narrative.")
    related: list[str] = Field(
        default_factory=list,
        description="References this fact links to (a staging fact's condition, a report's results).",
    )
    details: dict[str, Any] = Field(
        default_factory=dict, description="Kind-specific extras (TNM type, gene, HGVS, modality, ...)."
    )
    evidence: EvidenceRef

    @property
    def reference(self) -> str:
        return self.evidence.reference
