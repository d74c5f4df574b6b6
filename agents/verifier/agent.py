"""The verifier node of the case flow.

It checks every statement of the synthesizer's draft against its cited sources and the whole
clinical picture the specialists read (`medboard.tools.checks`; structured claims directly), asks
for one revision when model-written statements failed, and on the last round strikes what is
still unsupported, listing it with the reason. The checks themselves
live in `tools/checks/`; what this node adds is the model entailment for what the rules cannot
decide (`medboard.agents.verifier.entailment`) and the revise-or-publish decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel

from medboard.agents.case import CaseContext
from medboard.agents.messages import DraftSummary, VerificationResult, latest_content
from medboard.agents.verifier.entailment import model_entailment
from medboard.models import AgentRun
from medboard.tools.checks.pipeline import apply_verdicts, revision_feedback, verify_summary

log = logging.getLogger(__name__)

AGENT = "verifier"


class VerifierAgent:
    name = AGENT
    description = "Checks every statement against its cited sources and the whole clinical picture."
    output_type: ClassVar[type[BaseModel]] = VerificationResult

    def __init__(self, context: CaseContext) -> None:
        self.context = context

    async def respond(self, inbox: Sequence[BaseModel]) -> VerificationResult:
        draft = latest_content(inbox, DraftSummary)
        if draft is None:  # pragma: no cover - graph wiring guarantees a draft
            raise RuntimeError("verifier activated without a draft summary")
        return await self.verify(draft)

    async def verify(self, draft: DraftSummary) -> VerificationResult:
        caller = self.context.caller
        report = await verify_summary(
            draft.summary,
            self.context.record,
            case_date=self.context.case.effective_date,
            # The picture the specialists read: statements are judged against the same patient.
            picture=self.context.picture,
            # The series the imaging reader loaded (ids as cited in `image:<series>#frame=i`).
            images=list(self.context.image_series.values()),
            entailment=model_entailment(caller) if caller and self.context.model_entailment else None,
            # Entailment checks are independent: let as many fly as the endpoint allows.
            max_concurrency=_endpoint_concurrency(caller),
        )
        failing = revision_feedback(report)
        revisable = failing.keys() & set(draft.model_statement_ids)
        last_round = draft.round >= self.context.max_revise_rounds
        needs_revision = bool(revisable) and not last_round
        summary = apply_verdicts(
            draft.summary, report.verdicts, discrepancies=report.discrepancies, strike=not needs_revision
        )
        return VerificationResult(
            summary=summary,
            round=draft.round,
            verdicts=report.verdicts,
            discrepancies=report.discrepancies,
            needs_revision=needs_revision,
            failing=failing,
        )

    def account(self, output: BaseModel, run: AgentRun) -> None:
        """Time and tokens are the node's to count; the verifier adds nothing."""

    def reset(self) -> None:
        """Stateless between runs."""


def _endpoint_concurrency(caller: object | None, default: int = 4) -> int:
    endpoint = getattr(caller, "endpoint", None)
    return int(getattr(endpoint, "max_concurrency", default) or default)
