"""The case flow: an AutoGen `GraphFlow` over the specialists, the synthesizer and the verifier.

```
ehr ─┐
imaging ─┼─► synthesizer ─► verifier ─┐ (revise, bounded)
longitudinal ─┘      ▲                │
                     └────────────────┘
```

Specialists have no incoming edges, so GraphFlow starts them together and their model calls are
in flight at once; the synthesizer waits for all of them ("all" activation). The verifier sends the
draft back at most `max_revise_rounds` times.

Time: the model's share is bounded by the run budget (`medboard.llm.budget`): every model call
made by any agent of this run shares one clock, and once it runs out the calls still pending fail
at once as `kind="budget"`. The agents degrade their sections as for any model fault, so the flow
goes on to verify and publish the deterministic summary, with the model sections marked failed
and a run warning naming the budget. The wall-clock guard (`timeout_s`, by default the larger of
900 s and the run budget plus 300 s for the deterministic work) is a backstop against a hang
outside the model layer, never the way a slow endpoint ends a run; with the message cap it is
the flow's hard termination guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from autogen_agentchat.base import TaskResult
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import BaseChatMessage, StructuredMessage
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow
from autogen_core import CancellationToken

from medboard.agents.case import CaseContext, CaseInput
from medboard.agents.imaging.overlays import save_overlays
from medboard.agents.messages import PublishedSummary, VerificationResult
from medboard.agents.node import AgentNode
from medboard.agents.publisher import PublisherAgent
from medboard.agents.registry import default_specialists
from medboard.agents.specialist import Specialist
from medboard.agents.synthesizer.agent import SynthesizerAgent
from medboard.agents.verifier.agent import VerifierAgent
from medboard.errors import MedboardError
from medboard.llm.budget import run_budget
from medboard.models import CaseSummary

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, str], None]
DEFAULT_TIMEOUT_S = 900.0
#: Time the guard leaves after the run budget for the deterministic work (verify, publish).
DETERMINISTIC_GRACE_S = 300.0


class CaseFlowError(MedboardError):
    """The flow ended without a verified summary (timeout, guard tripped)."""


#: autogen-core logs every published message, payload included, at INFO: patient data.
AUTOGEN_MESSAGE_LOGGERS = ("autogen_core", "autogen_core.events", "autogen_agentchat.events")


def quiet_autogen_logs() -> None:
    """Keep patient data out of INFO logs: autogen's message loggers default to WARNING here.

    Only loggers nobody configured (level NOTSET) are changed; set them explicitly to opt back in.
    """
    for name in AUTOGEN_MESSAGE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def _needs_revision(message: BaseChatMessage) -> bool:
    content = getattr(message, "content", None)
    return isinstance(content, VerificationResult) and content.needs_revision


def build_flow(context: CaseContext, specialists: Sequence[type[Specialist]] | None = None) -> GraphFlow:
    """Wire the graph for one case: every participant behind the one AgentChat adapter."""
    agents = [AgentNode(cls(context), context) for cls in (specialists or default_specialists())]
    synthesizer = AgentNode(SynthesizerAgent(context), context)
    verifier = AgentNode(VerifierAgent(context), context)
    publisher = AgentNode(PublisherAgent(context), context, accounted=False)
    builder = DiGraphBuilder()
    for agent in agents:
        builder.add_node(agent)
    builder.add_node(synthesizer).add_node(verifier).add_node(publisher)
    for agent in agents:
        builder.add_edge(agent, synthesizer, activation_group="specialists", activation_condition="all")
    builder.add_edge(synthesizer, verifier)
    builder.add_edge(
        verifier,
        synthesizer,
        condition=_needs_revision,
        activation_group="revise",
        activation_condition="any",
    )
    builder.add_edge(verifier, publisher, condition=lambda message: not _needs_revision(message))
    # Every node speaks once per round: specialists, then (synthesizer, verifier) × rounds, + task.
    cap = len(agents) + 2 * (context.max_revise_rounds + 1) + 3
    return GraphFlow(
        participants=builder.get_participants(),
        graph=builder.build(),
        termination_condition=MaxMessageTermination(cap),
    )


async def run_case_flow(
    case: CaseInput,
    *,
    caller: object | None = None,
    specialists: Sequence[type[Specialist]] | None = None,
    max_revise_rounds: int = 1,
    model_entailment: bool = True,
    overlay_dir: Path | None = None,
    timeout_s: float | None = None,
    progress: ProgressCallback | None = None,
    run_budget_s: float | None = None,
) -> CaseSummary:
    """Run one case through the graph and return the verified summary.

    `run_budget_s`: seconds for all model calls of this run (default: the caller's
    `endpoint.run_budget_s`; no budget without a caller). `timeout_s`: the backstop guard.
    """
    quiet_autogen_logs()
    if run_budget_s is None and caller is not None:
        run_budget_s = getattr(getattr(caller, "endpoint", None), "run_budget_s", None)
    if timeout_s is None:
        timeout_s = max(DEFAULT_TIMEOUT_S, (run_budget_s or 0.0) + DETERMINISTIC_GRACE_S)
    context = CaseContext(
        case=case, caller=caller, max_revise_rounds=max_revise_rounds, model_entailment=model_entailment
    )  # type: ignore[arg-type]
    flow = build_flow(context, specialists)
    token = CancellationToken()
    final: CaseSummary | None = None

    async def consume() -> None:
        nonlocal final
        async for event in flow.run_stream(task=f"Prepare case {case.case_id}", cancellation_token=token):
            if isinstance(event, TaskResult):
                continue
            if isinstance(event, StructuredMessage):
                if isinstance(event.content, PublishedSummary):
                    final = event.content.summary
                if progress is not None:
                    progress(event.source, _status_of(event))

    # Set before wait_for creates the task: the flow's tasks inherit the budget from its context.
    scope = run_budget(run_budget_s) if run_budget_s is not None else contextlib.nullcontext()
    try:
        with scope as budget:
            await asyncio.wait_for(consume(), timeout=timeout_s)
    except Exception as error:
        if context.fatal is not None:
            raise context.fatal from None
        if isinstance(error, TimeoutError):
            token.cancel()
            raise CaseFlowError(
                f"case {case.case_id}: no verified summary within {timeout_s:.0f} s"
            ) from error
        raise
    if context.fatal is not None:
        raise context.fatal
    if final is None:
        raise CaseFlowError(f"case {case.case_id}: the flow ended without a verified summary")
    if budget is not None and budget.exhausted:
        final.run.warnings.append(
            f"model: {budget.reason()}: model calls still pending then were not made; the sections "
            "they feed are marked failed or degraded, and the rest of the summary is deterministic"
        )
    if overlay_dir is not None and context.image_series:
        # Key frames with the imaging reader's boxes (only boxed findings: a vision model's).
        save_overlays(final.findings, context.image_series, overlay_dir)
    return final


def _status_of(event: StructuredMessage) -> str:
    content = event.content
    status = getattr(content, "status", None)
    if status:
        return str(status)
    if isinstance(content, VerificationResult):
        return "revise" if content.needs_revision else "verified"
    if isinstance(content, PublishedSummary):
        return "done"
    return "drafted"
