"""The one protocol every specialist follows.

A specialist is a small AutoGen AgentChat agent (`BaseChatAgent`) with a deterministic core and,
when a model is configured, a MedGemma layer. It reads the case from the shared `CaseContext`
(never from chat history: MedGemma is not tuned for multi-turn and identical prefixes cache), and
answers with one structured message, a `SpecialistReport`. A model fault degrades the report —
the deterministic findings stay, the failure is recorded and shown — and never crashes the flow.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken
from pydantic import BaseModel, Field

from medboard.errors import MedboardError
from medboard.llm.errors import CassetteMissError, ModelCallError
from medboard.models import AgentRun, Finding
from medboard.orchestrator.context import CaseContext
from medboard.textsafety import neutralize_line, redact_urls

log = logging.getLogger(__name__)


class SpecialistReport(BaseModel):
    """What a specialist hands to the synthesizer: its findings and how its run went."""

    agent: str
    status: Literal["ok", "degraded", "failed", "skipped"] = "ok"
    findings: list[Finding] = Field(default_factory=list)
    error: str | None = None

    def __repr__(self) -> str:
        # No patient data: autogen-core formats published messages into its INFO log.
        return (
            f"SpecialistReport(agent={self.agent!r}, status={self.status!r}, findings={len(self.findings)})"
        )


class SpecialistOutput(BaseModel):
    """What `analyse` returns; the base class adds timing and model-call accounting."""

    findings: list[Finding] = Field(default_factory=list)
    degraded_reason: str | None = None
    skipped_reason: str | None = None


class SpecialistAgent(BaseChatAgent):
    """Base for specialists: subclasses implement `analyse`; the base handles the protocol."""

    #: Short name, used as the agent name, in finding ids and in the run metadata.
    agent_name: str = "specialist"
    description_text: str = "A medboard specialist."

    def __init__(self, context: CaseContext) -> None:
        super().__init__(name=self.agent_name, description=self.description_text)
        self.context = context

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage[SpecialistReport],)

    @abstractmethod
    async def analyse(self) -> SpecialistOutput:
        """Produce findings for the case in `self.context`."""

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        report = await self.run_specialist()
        return Response(chat_message=StructuredMessage[SpecialistReport](content=report, source=self.name))

    async def run_specialist(self) -> SpecialistReport:
        """Run `analyse` with accounting; never raises for a model or tool fault."""
        started = time.perf_counter()
        try:
            output = await self.analyse()
        except CassetteMissError as error:  # strict replay: a changed prompt must fail the run
            self.context.fatal = error
            raise
        except Exception as error:  # a specialist must never take the case down with it
            log.warning("specialist %s failed: %s", self.name, type(error).__name__)
            log.debug("specialist %s failure detail", self.name, exc_info=True)
            report = SpecialistReport(agent=self.name, status="failed", error=_one_line(error))
        else:
            status: Literal["ok", "degraded", "skipped"] = "ok"
            if output.skipped_reason:
                status = "skipped"
            elif output.degraded_reason:
                status = "degraded"
            report = SpecialistReport(
                agent=self.name,
                status=status,
                findings=output.findings,
                error=output.degraded_reason or output.skipped_reason,
            )
        self.context.agent_runs[self.name] = AgentRun(
            agent=self.name,
            status=report.status,
            seconds=round(time.perf_counter() - started, 4),
            findings=len(report.findings),
            error=report.error,
            **model_usage(self.context.caller, self.name),
        )
        return report

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
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


def model_usage(caller: Any, agent: str) -> dict[str, int]:
    """An agent's model calls and tokens so far, from the caller's per-agent totals."""
    totals = caller.totals().get(agent) if caller is not None else None
    if totals is None:
        return {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    return {
        "model_calls": totals.calls,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
    }
