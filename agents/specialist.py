"""The one protocol every specialist follows, and what it hands to the synthesizer.

A specialist is a plain class with a deterministic core and, when a model is configured, a MedGemma
layer. It receives the case at construction (`CaseContext`: the record, the images, the model
caller) — never through chat history: MedGemma is not tuned for multi-turn, and identical prefixes
cache — and answers with one structured `SpecialistReport`. It knows nothing of AutoGen: the flow
wraps it in the one AgentChat adapter (`medboard.agents.node.AgentNode`), which owns the autogen
protocol, exception parking and usage accounting for every node alike.

A specialist declares the summary sections it feeds (`sections`). Each finding it returns names its
section (`Finding.section`): the specialist places the findings it knows more about, and the base
class places the rest by category (`default_section`). A model fault degrades the report — the
deterministic findings stay, the failure is recorded and shown — and never crashes the flow.

Adding a specialist: a folder `agents/<name>/` with a `Specialist` subclass, and one line in
`medboard.agents.registry.DEFAULT_SPECIALISTS`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from medboard.agents.case import CaseContext
from medboard.errors import MedboardError
from medboard.llm.errors import CassetteMissError, ModelCallError
from medboard.models import AgentRun, Finding, SectionSpec, default_section
from medboard.textsafety import neutralize_line, redact_urls

log = logging.getLogger(__name__)


class SpecialistReport(BaseModel):
    """What a specialist hands to the synthesizer: its findings, the sections it feeds, how it went."""

    agent: str
    status: Literal["ok", "degraded", "failed", "skipped"] = "ok"
    findings: list[Finding] = Field(default_factory=list)
    error: str | None = None
    sections: list[SectionSpec] = Field(
        default_factory=list, description="The sections this specialist feeds (a failure marks them)."
    )

    def __repr__(self) -> str:
        # No patient data: autogen-core formats published messages into its INFO log.
        return (
            f"SpecialistReport(agent={self.agent!r}, status={self.status!r}, findings={len(self.findings)})"
        )


class SpecialistOutput(BaseModel):
    """What `analyse` returns; the base class turns it into a `SpecialistReport`."""

    findings: list[Finding] = Field(default_factory=list)
    degraded_reason: str | None = None
    skipped_reason: str | None = None


class Specialist(ABC):
    """Base for specialists: subclasses implement `analyse`; the base handles the protocol."""

    #: Short name: the node's name, the prefix of finding ids, the key in the run metadata.
    agent_name: ClassVar[str] = "specialist"
    description_text: ClassVar[str] = "A medboard specialist."
    #: The summary sections this specialist feeds. Built-in ones are laid out by the synthesizer in
    #: any case; a section declared here that is not built in is added to the summary.
    sections: ClassVar[tuple[SectionSpec, ...]] = ()
    output_type: ClassVar[type[BaseModel]] = SpecialistReport

    def __init__(self, context: CaseContext) -> None:
        self.context = context

    @property
    def name(self) -> str:
        return self.agent_name

    @property
    def description(self) -> str:
        return self.description_text

    @abstractmethod
    async def analyse(self) -> SpecialistOutput:
        """Produce findings for the case in `self.context`."""

    def place(self, finding: Finding) -> str:
        """The section a finding goes to when `analyse` did not say (by default: by its category)."""
        return default_section(finding.category)

    async def respond(self, inbox: Sequence[BaseModel]) -> SpecialistReport:
        """The node calls this once per case: specialists need nothing from their inbox."""
        return await self.run_specialist()

    async def run_specialist(self) -> SpecialistReport:
        """Run `analyse`; never raises for a model or tool fault (a strict-replay miss excepted)."""
        try:
            output = await self.analyse()
        except CassetteMissError:  # strict replay: a changed prompt must fail the run
            raise
        except Exception as error:  # a specialist must never take the case down with it
            log.warning("specialist %s failed: %s", self.name, type(error).__name__)
            log.debug("specialist %s failure detail", self.name, exc_info=True)
            return SpecialistReport(
                agent=self.name, status="failed", error=_one_line(error), sections=list(self.sections)
            )
        status: Literal["ok", "degraded", "skipped"] = "ok"
        if output.skipped_reason:
            status = "skipped"
        elif output.degraded_reason:
            status = "degraded"
        for finding in output.findings:
            if finding.section is None:
                finding.section = self.place(finding)
        return SpecialistReport(
            agent=self.name,
            status=status,
            findings=output.findings,
            error=output.degraded_reason or output.skipped_reason,
            sections=list(self.sections),
        )

    def account(self, output: BaseModel, run: AgentRun) -> None:
        """What the run metadata says of this specialist's run (the node adds time and tokens)."""
        if isinstance(output, SpecialistReport):
            run.status, run.findings, run.error = output.status, len(output.findings), output.error

    def reset(self) -> None:  # noqa: B027 - a no-op by design, overridable
        """Specialists are stateless between runs: nothing to reset."""


def _one_line(error: BaseException) -> str:
    """What a failed specialist's report (and so the summary) says about the error.

    Only medboard's own errors carry their message: those are written to be shown (a file, a
    rule, a cap). Any other exception's text may quote a prompt, an endpoint's answer or a
    record value, so the summary names its type only; the message goes to the DEBUG log.
    """
    if isinstance(error, ModelCallError):
        return f"model call failed: {error.reason}"[:300]
    if isinstance(error, MedboardError):
        text = neutralize_line(redact_urls(str(error).strip()))
        return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
    return f"{type(error).__name__} (internal error; details in the DEBUG log)"
