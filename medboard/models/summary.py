"""The cross-checked case summary and the verifier's vocabulary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models.claims import Claim
from medboard.models.evidence import EvidenceRef
from medboard.models.findings import Finding
from medboard.models.sections import SectionId

#: 1.1: `Section.kind` / `StruckStatement.section` accept a specialist's own section id (pattern,
#: not only the built-in enum); `Finding.section` names the section a finding belongs in.
#: 1.2: `Finding.claim` / `Statement.claim`: a templated statement's structured claim.
#: 1.3: the board layout (section kinds `headline`, `cancer`, `key_labs`, `data_quality`,
#: `appendix`); `Section.subject` (the cancer a `cancer` section is about), `Section.columns` and
#: `Statement.cells` (a table section's header and a statement's row).
#: 1.4: finding categories `social_history` and `family_history`, filed under the board's `history`
#: section ("Risk factors and history").
SCHEMA_VERSION = "1.4"

DISCLAIMER = (
    "Not a diagnostic device. This summary was drafted by AI agents from the cited record and "
    "checked against it; it does not recommend treatment and must be reviewed by a clinician."
)


class VerdictLabel(StrEnum):
    supported = "supported"
    unsupported = "unsupported"
    contradicted = "contradicted"
    unverifiable = "unverifiable"


class CheckResult(BaseModel):
    """One check the verifier ran on one statement."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Check name, e.g. `evidence_exists`, `numbers_agree`.")
    outcome: Literal["pass", "fail", "skip"]
    detail: str = ""
    evidence: list[EvidenceRef] = Field(default_factory=list, description="What was compared.")


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statement_id: str
    verdict: VerdictLabel
    reason: str = Field(description="One line: why this verdict.")
    checks: list[CheckResult] = Field(default_factory=list)


class Statement(BaseModel):
    """One sentence of the summary. It cites findings, and through them the record."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    finding_ids: list[str] = Field(default_factory=list)
    evidence: list[EvidenceRef] = Field(
        default_factory=list, description="The evidence of the cited findings, denormalised."
    )
    claim: Claim | None = Field(
        default=None,
        description="What a templated statement asserts, as fields (its finding's claim); checked "
        "against the whole clinical picture. None for model-written statements (text is checked).",
    )
    cells: list[str] | None = Field(
        default=None,
        description="The statement as a table row (its section's `columns`); the text says the same "
        "in words and is what the verifier checks.",
    )
    verdict: Verdict | None = None


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SectionId = Field(description="A built-in `SectionKind` value or a specialist's own section id.")
    title: str
    subject: str | None = Field(
        default=None, description="What the section is about, e.g. a `cancer` section's `Condition/id`."
    )
    columns: list[str] | None = Field(
        default=None, description="A table section's header; its statements' `cells` are the rows."
    )
    statements: list[Statement] = Field(default_factory=list)
    status: Literal["ok", "empty", "failed", "degraded"] = "ok"
    error: str | None = Field(default=None, description="Why the section failed or degraded.")
    open_questions: list[str] = Field(
        default_factory=list, description="What the record does not say (answer section, mainly)."
    )


class Discrepancy(BaseModel):
    """Two (or more) sources that disagree, every side cited."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str = Field(description="e.g. `stage_mismatch`, `conflicting_lab_values`.")
    description: str
    sources: list[EvidenceRef] = Field(min_length=2)
    severity: Literal["info", "warning", "critical"] = "warning"


class StruckStatement(BaseModel):
    """A statement the verifier could not support after revision: removed, and listed with why."""

    model_config = ConfigDict(extra="forbid")

    statement: Statement
    section: SectionId
    reason: str


class AgentRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str
    status: Literal["ok", "failed", "skipped", "degraded"] = "ok"
    seconds: float = 0.0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    findings: int = 0
    error: str | None = None


class ModelRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    endpoint: str | None = None


class RunMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    medboard_version: str
    schema_version: str = SCHEMA_VERSION
    started_at: datetime
    finished_at: datetime | None = None
    model: ModelRun | None = Field(default=None, description="None when no model was configured.")
    agents: list[AgentRun] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class CaseSummary(BaseModel):
    """The product: every statement cites findings and carries the verifier's verdict."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    case_id: str
    patient: str | None = Field(default=None, description="`Patient/id` of the case.")
    question: str | None = Field(default=None, description="The board question, when the case has one.")
    disclaimer: str = DISCLAIMER
    sections: list[Section] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    discrepancies: list[Discrepancy] = Field(default_factory=list)
    struck: list[StruckStatement] = Field(default_factory=list)
    run: RunMetadata

    def statements(self) -> list[Statement]:
        return [s for section in self.sections for s in section.statements]

    def section(self, kind: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind), None)

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)
