"""MedGemma entailment for what the verifier's rules cannot decide.

The deterministic checks (`medboard.tools.checks`) decide numbers, units, dates, sides, status,
stage and citations. A statement they leave `unverifiable` (qualitative wording such as "the
disease responded", image-only evidence excepted) can be put to the model: one single-turn,
schema-bound request per statement, carrying the statement and the quoted text of the evidence it
cites — nothing else, so the answer can only rest on those quotes. The answer is an
`EntailmentJudgement` (entailed / contradicted / neutral, with a short reason).

`model_entailment(caller)` turns a `medboard.llm.ModelCaller` into the callback
`verify_summary(..., entailment=...)` expects; any other async callable with the same signature
(a rules stub in tests, another model) works too.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from medboard.agents.prompting import SYSTEM_PREAMBLE, data_block
from medboard.agents.verifier.prompts import INSTRUCTION

# The contract lives in tools (the verifier core types its callback with it); re-exported here.
from medboard.tools.checks.entailment import EntailmentCallback, EntailmentJudgement, EntailmentRequest

AGENT = "verifier"
PURPOSE = "entailment"
MAX_EVIDENCE_CHARS = 6000


def build_entailment_prompt(
    request: EntailmentRequest, *, max_evidence_chars: int = MAX_EVIDENCE_CHARS
) -> str:
    """The user turn: the task, the statement, then each cited source as an inert data block."""
    blocks: list[str] = []
    budget = max_evidence_chars
    for quote in request.evidence:
        if budget <= 0:
            break
        block = data_block(quote.reference, quote.text, max_chars=min(len(quote.text), budget))
        blocks.append(block)
        budget -= len(quote.text)
    evidence = "\n".join(blocks) if blocks else "(no evidence text)"
    return (
        f"{INSTRUCTION}\n\nSTATEMENT:\n{data_block('statement', request.statement)}\n\nEVIDENCE:\n{evidence}"
    )


def entailment_messages(request: EntailmentRequest) -> list[Any]:
    """System preamble + one user turn (MedGemma is not tuned for multi-turn)."""
    from autogen_core.models import SystemMessage, UserMessage

    return [
        SystemMessage(content=SYSTEM_PREAMBLE),
        UserMessage(content=build_entailment_prompt(request), source="medboard"),
    ]


EntailmentFn: TypeAlias = EntailmentCallback  # the name this module used before the contract moved to tools


def model_entailment(caller: Any, *, max_tokens: int = 200) -> EntailmentFn:
    """An entailment callback over a `ModelCaller` (schema-bound, single-turn, bounded answer)."""

    async def entail(request: EntailmentRequest) -> EntailmentJudgement:
        result = await caller.structured(
            messages=entailment_messages(request),
            schema=EntailmentJudgement,
            agent=AGENT,
            purpose=PURPOSE,
            max_tokens=max_tokens,
        )
        judgement: EntailmentJudgement = result.value
        return judgement

    return entail
