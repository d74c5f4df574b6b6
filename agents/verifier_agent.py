"""The verifier node of the case flow.

It checks every statement of the synthesizer's draft (`medboard.tools.checks`), asks for one
revision when model-written statements failed, and on the last round strikes what is still
unsupported, listing it with the reason. The checks themselves live in `tools/checks/`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_core import CancellationToken

from medboard.agents.messages import DraftSummary, VerificationResult, latest_content
from medboard.agents.verifier import model_entailment
from medboard.llm.errors import CassetteMissError
from medboard.models import AgentRun
from medboard.orchestrator.context import CaseContext
from medboard.tools.checks.pipeline import apply_verdicts, revision_feedback, verify_summary

log = logging.getLogger(__name__)

AGENT = "verifier"


class VerifierAgent(BaseChatAgent):
    def __init__(self, context: CaseContext) -> None:
        super().__init__(name=AGENT, description="Checks every statement against its cited sources.")
        self.context = context

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (StructuredMessage[VerificationResult],)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        draft = latest_content(messages, DraftSummary)
        if draft is None:  # pragma: no cover - graph wiring guarantees a draft
            raise RuntimeError("verifier activated without a draft summary")
        try:
            result = await self.verify(draft)
        except CassetteMissError as error:
            self.context.fatal = error
            raise
        return Response(chat_message=StructuredMessage[VerificationResult](content=result, source=self.name))

    async def verify(self, draft: DraftSummary) -> VerificationResult:
        started = time.perf_counter()
        report = await verify_summary(
            draft.summary,
            self.context.record,
            case_date=self.context.case.effective_date,
            # The series the imaging reader loaded (ids as cited in `image:<series>#frame=i`).
            images=list(self.context.image_series.values()),
            entailment=(
                model_entailment(self.context.caller)
                if self.context.model_entailment and self.context.caller is not None
                else None
            ),
            # Entailment checks are independent: let as many fly as the endpoint allows.
            max_concurrency=_endpoint_concurrency(self.context.caller),
        )
        failing = revision_feedback(report)
        revisable = failing.keys() & set(draft.model_statement_ids)
        last_round = draft.round >= self.context.max_revise_rounds
        needs_revision = bool(revisable) and not last_round
        summary = apply_verdicts(
            draft.summary, report.verdicts, discrepancies=report.discrepancies, strike=not needs_revision
        )
        run = self.context.agent_runs.get(AGENT) or AgentRun(agent=AGENT)
        run.seconds = round(run.seconds + time.perf_counter() - started, 4)
        self.context.agent_runs[AGENT] = run
        return VerificationResult(
            summary=summary,
            round=draft.round,
            verdicts=report.verdicts,
            discrepancies=report.discrepancies,
            needs_revision=needs_revision,
            failing=failing,
        )

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Stateless between runs."""


def _endpoint_concurrency(caller: object | None, default: int = 4) -> int:
    endpoint = getattr(caller, "endpoint", None)
    return int(getattr(endpoint, "max_concurrency", default) or default)
