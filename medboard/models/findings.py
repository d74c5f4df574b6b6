"""A specialist's claims about the case."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models.claims import Claim
from medboard.models.evidence import EvidenceRef
from medboard.models.facts import Laterality
from medboard.models.sections import SectionId, SectionKind

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class FindingCategory(StrEnum):
    demographics = "demographics"
    diagnosis = "diagnosis"
    staging = "staging"
    biomarker = "biomarker"
    genomics = "genomics"
    lab = "lab"
    vital = "vital"
    medication = "medication"
    procedure = "procedure"
    imaging = "imaging"
    report = "report"
    note = "note"
    performance_status = "performance_status"
    trend = "trend"
    response = "response"
    social_history = "social_history"
    family_history = "family_history"
    other = "other"


class Finding(BaseModel):
    """One claim by one specialist, with the evidence it rests on.

    Findings are what agents exchange (structured messages, never prose to re-parse). The
    synthesizer may only restate findings, and statements cite findings by `id`.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id, derived from agent, category, text and evidence.")
    text: str
    category: FindingCategory
    agent: str = Field(description="Name of the specialist that produced the finding.")
    method: Literal["deterministic", "model"] = "deterministic"
    evidence: list[EvidenceRef] = Field(default_factory=list)
    value: float | int | str | None = None
    unit: str | None = None
    date: str | None = None
    laterality: Laterality | None = None
    confidence: Confidence = 1.0
    notes: list[str] = Field(default_factory=list, description="Caveats, e.g. inputs skipped and why.")
    section: SectionId | None = Field(
        default=None,
        description="The summary section this finding belongs in (a `SectionKind` or a section its "
        "specialist declares); set by the specialist, `default_section(category)` when it does not say.",
    )
    tags: list[str] = Field(
        default_factory=list,
        description="Free labels for readers and relevance ranking, e.g. `cancer`, `critical` (not routing).",
    )
    claim: Claim | None = Field(
        default=None,
        description="What a deterministic finding asserts, as fields (`medboard.models.claims`); the "
        "verifier checks it against the whole clinical picture. None for model-written findings.",
    )

    @staticmethod
    def make_id(agent: str, category: str, text: str, evidence: list[EvidenceRef]) -> str:
        """Deterministic id: the same claim on the same evidence gets the same id on every run."""
        digest = hashlib.sha256(
            "\x1f".join([agent, category, text, *sorted(e.reference for e in evidence)]).encode()
        ).hexdigest()[:10]
        return f"{agent}-{digest}"

    @classmethod
    def create(
        cls,
        *,
        agent: str,
        category: FindingCategory | str,
        text: str,
        evidence: list[EvidenceRef],
        **fields: object,
    ) -> Finding:
        """Build a finding with its stable id."""
        category = FindingCategory(category)
        return cls(
            id=cls.make_id(agent, category.value, text, evidence),
            agent=agent,
            category=category,
            text=text,
            evidence=evidence,
            **fields,  # type: ignore[arg-type]
        )


_SECTION_BY_CATEGORY: dict[FindingCategory, SectionKind] = {
    FindingCategory.demographics: SectionKind.patient,
    FindingCategory.performance_status: SectionKind.patient,
    FindingCategory.imaging: SectionKind.imaging,
    FindingCategory.lab: SectionKind.labs_and_trends,
    FindingCategory.vital: SectionKind.labs_and_trends,
    FindingCategory.trend: SectionKind.labs_and_trends,
    # A medication is history unless its specialist knows it is current (then: medications).
    FindingCategory.medication: SectionKind.oncologic_history,
    FindingCategory.response: SectionKind.current_status,
    FindingCategory.staging: SectionKind.oncologic_history,
    FindingCategory.biomarker: SectionKind.oncologic_history,
    FindingCategory.genomics: SectionKind.oncologic_history,
    FindingCategory.procedure: SectionKind.oncologic_history,
    FindingCategory.social_history: SectionKind.history,
    FindingCategory.family_history: SectionKind.history,
}


def default_section(category: FindingCategory) -> SectionKind:
    """Where a finding of this category goes when its specialist did not say."""
    return _SECTION_BY_CATEGORY.get(category, SectionKind.current_status)
