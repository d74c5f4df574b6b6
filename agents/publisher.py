"""The flow's leaf: takes the verifier's final word and emits the finished `CaseSummary`.

GraphFlow needs a leaf node, and the revise loop needs an exit edge; the publisher is both. It adds
nothing to the content: it only seals the run metadata (per-agent timings, tokens, warnings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from medboard.agents.case import CaseContext
from medboard.agents.messages import PublishedSummary, VerificationResult, latest_content
from medboard.agents.node import model_usage
from medboard.models import AgentRun, CaseSummary

AGENT = "publisher"


class PublisherAgent:
    name = AGENT
    description = "Seals the verified summary with its run metadata."
    output_type: ClassVar[type[BaseModel]] = PublishedSummary

    def __init__(self, context: CaseContext) -> None:
        self.context = context

    async def respond(self, inbox: Sequence[BaseModel]) -> PublishedSummary:
        result = latest_content(inbox, VerificationResult)
        if result is None:  # pragma: no cover - graph wiring guarantees a verification
            raise RuntimeError("publisher activated without a verification result")
        return PublishedSummary(summary=seal(result.summary, self.context))

    def account(self, output: BaseModel, run: AgentRun) -> None:
        """The publisher has no line of its own in the run metadata."""

    def reset(self) -> None:
        """Stateless."""


def seal(summary: CaseSummary, context: CaseContext) -> CaseSummary:
    """Final run metadata: one `AgentRun` per agent with its model usage, and their warnings."""
    result = summary  # the verifier's copy is the flow's own: sealed in place
    runs = sorted(context.agent_runs.values(), key=lambda r: r.agent)
    for run in runs:  # model calls made after a node's own turn (none today) are counted here too
        for field, value in model_usage(context.caller, run.agent).items():
            setattr(run, field, value)
    result.run.agents = runs
    result.run.finished_at = datetime.now(UTC)
    for run in runs:
        if run.status in ("failed", "degraded") and run.error:
            result.run.warnings.append(f"{run.agent} {run.status}: {run.error}")
    return result
