"""Deterministic, typed facts extracted from a `PatientRecord`.

A `Fact` is what the tools can say about the record without a model: one resource (or one
component of it) read into a uniform shape. Values keep the source's exact number and unit;
rounding is for display only. Dates stay the source's ISO strings (FHIR allows partial dates such
as ``2019`` or ``2019-04``), so no precision is invented.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medboard.models.evidence import EvidenceRef
from medboard.models.fact_kinds import FactDetails, FactKind, empty_details

Laterality = Literal["left", "right", "bilateral"]


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
    details: FactDetails = Field(
        default_factory=lambda data: empty_details(data["kind"]),
        description="Kind-specific extras (TNM type, gene, HGVS, modality, ...), tagged with the kind.",
    )
    evidence: EvidenceRef

    @model_validator(mode="before")
    @classmethod
    def _tag_details(cls, data: Any) -> Any:
        """Details given as a mapping without a tag take the fact's kind (one source of truth)."""
        if isinstance(data, Mapping):
            details = data.get("details")
            if isinstance(details, Mapping) and "kind" not in details and data.get("kind") is not None:
                data = {**data, "details": {**details, "kind": data["kind"]}}
        return data

    @model_validator(mode="after")
    def _details_match_kind(self) -> Fact:
        if self.details.kind != self.kind:
            raise ValueError(f"details of kind {self.details.kind!r} on a {self.kind.value!r} fact")
        return self

    @property
    def reference(self) -> str:
        return self.evidence.reference
