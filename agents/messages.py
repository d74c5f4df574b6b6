"""Structured messages the case flow's agents exchange (pydantic, never prose to re-parse)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from medboard.models import CaseSummary, Discrepancy, Verdict


class DraftSummary(BaseModel):
    """The synthesizer's draft (round 0) or revision (round ≥ 1)."""

    summary: CaseSummary
    round: int = 0
    model_statement_ids: list[str] = Field(
        default_factory=list, description="Statements the model wrote (revisable); the rest are templated."
    )


class VerificationResult(BaseModel):
    """The verifier's answer: verdicts on the draft, and whether the synthesizer should revise."""

    summary: CaseSummary
    round: int
    verdicts: list[Verdict] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    needs_revision: bool = False
    failing: dict[str, str] = Field(
        default_factory=dict, description="statement id → reason, for statements that failed."
    )
