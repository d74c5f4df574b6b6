"""Structured messages the case flow's agents exchange (pydantic, never prose to re-parse).

The summary a draft or verification carries is excluded from serialization: the flow runs in one
process and hands the objects over as they are, while autogen-core serializes every published
message for its event log — eagerly, on every publish. Excluding it keeps patient data out of that
log and keeps a large record's summary from being serialized a dozen times per case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel, Field

from medboard.models import CaseSummary, Discrepancy, Verdict


class DraftSummary(BaseModel):
    """The synthesizer's draft (round 0) or revision (round ≥ 1)."""

    summary: CaseSummary = Field(exclude=True)
    round: int = 0
    model_statement_ids: list[str] = Field(
        default_factory=list, description="Statements the model wrote (revisable); the rest are templated."
    )

    def __repr__(self) -> str:
        return _short_repr(self, statements=len(self.summary.statements()))


class VerificationResult(BaseModel):
    """The verifier's answer: verdicts on the draft, and whether the synthesizer should revise."""

    summary: CaseSummary = Field(exclude=True)
    round: int
    verdicts: list[Verdict] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    needs_revision: bool = False
    failing: dict[str, str] = Field(
        default_factory=dict, description="statement id → reason, for statements that failed."
    )

    def __repr__(self) -> str:
        return _short_repr(self, verdicts=len(self.verdicts), needs_revision=self.needs_revision)


class PublishedSummary(BaseModel):
    """The flow's final message: the sealed summary."""

    summary: CaseSummary = Field(exclude=True)

    def __repr__(self) -> str:
        return f"PublishedSummary(case={self.summary.case_id!r}, statements={len(self.summary.statements())})"


ContentT = TypeVar("ContentT", bound=BaseModel)


def latest_content(inbox: Sequence[object], kind: type[ContentT]) -> ContentT | None:
    """The newest content of type `kind` in a node's inbox (structured contents, oldest first)."""
    for content in reversed(inbox):
        if isinstance(content, kind):
            return content
    return None


def _short_repr(message: BaseModel, **counts: object) -> str:
    """A repr without patient data.

    autogen-core formats every published message into an INFO log line (and does so eagerly, even
    when INFO is off): a default pydantic repr would put the whole record there, and cost a
    noticeable share of a case's run time on large records.
    """
    shown = ", ".join(f"{k}={v}" for k, v in counts.items())
    return f"{type(message).__name__}(round={getattr(message, 'round', '-')}, {shown})"
