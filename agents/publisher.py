"""The flow's leaf: takes the verifier's final word and emits the finished `CaseSummary`.

GraphFlow needs a leaf node, and the revise loop needs an exit edge; the publisher is both. It adds
nothing to the content: it only seals the run metadata (per-agent timings, tokens, warnings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken

from medboard.agents.base import model_usage
from medboard.agents.messages import PublishedSummary, VerificationResult, latest_content
from medboard.models import CaseSummary
from medboard.orchestrator.context import CaseContext

AGENT = "publisher"


class PublisherAgent(BaseChatAgent):
    def __init__(self, context: CaseContext) -> None:
        super().__init__(name=AGENT, description="Seals the verified summary with its run metadata.")
        self.context = context

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage[PublishedSummary],)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        result = latest_content(messages, VerificationResult)
        if result is None:  # pragma: no cover - graph wiring guarantees a verification
            raise RuntimeError("publisher activated without a verification result")
        summary = seal(result.summary, self.context)
        return Response(
            chat_message=StructuredMessage[PublishedSummary](
                content=PublishedSummary(summary=summary), source=self.name
            )
        )

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Stateless."""


def seal(summary: CaseSummary, context: CaseContext) -> CaseSummary:
    """Final run metadata: one `AgentRun` per agent with its model usage, and their warnings."""
    result = summary  # the verifier's copy is the flow's own: sealed in place
    runs = sorted(context.agent_runs.values(), key=lambda r: r.agent)
    for run in runs:  # the synthesizer's and verifier's calls are counted here, once, at the end
        for field, value in model_usage(context.caller, run.agent).items():
            setattr(run, field, value)
    result.run.agents = runs
    result.run.finished_at = datetime.now(UTC)
    for run in runs:
        if run.status in ("failed", "degraded") and run.error:
            result.run.warnings.append(f"{run.agent} {run.status}: {run.error}")
    return result
