"""The contract between the verifier's rules and whatever judges what they leave open.

A statement the rules leave `unverifiable` becomes an `EntailmentRequest` (the statement and the
quoted text of its evidence) and goes to an `EntailmentCallback`, which answers with an
`EntailmentJudgement`. The contract lives here, in tools, so the verifier core needs no agent to
type or call it: `medboard.agents.verifier.model_entailment(caller)` builds the MedGemma callback,
tests pass a stub, and `verify_summary(..., entailment=...)` takes either.

`judge` folds one judgement into the rules' verdict; its policy (the rules win over a model that
says "contradicted", instruction-like record text is never put to a model, a failing model
degrades one statement visibly) is what the verifier promises, whichever callback answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models import CheckResult, EvidenceRef, Verdict, VerdictLabel
from medboard.tools.checks.evidence import CitedEvidence
from medboard.tools.checks.injection import instruction_like

log = logging.getLogger(__name__)

ENTAILMENT = "entailment"


@dataclass(frozen=True)
class EvidenceQuote:
    """One cited source as the entailment model sees it: its reference and what it says."""

    reference: str
    text: str


@dataclass(frozen=True)
class EntailmentRequest:
    """A statement the rules could not decide, with the quoted text of its evidence."""

    statement_id: str
    statement: str
    evidence: tuple[EvidenceQuote, ...]
    rule_checks: tuple[CheckResult, ...] = ()
    #: why no model may decide this statement (instruction-like record text), or None
    untrusted: str | None = None


class EntailmentJudgement(BaseModel):
    """The model's answer: does the quoted evidence entail the statement?"""

    model_config = ConfigDict(extra="forbid")

    label: Literal["entailed", "contradicted", "neutral"] = Field(
        description="entailed: the evidence states it; contradicted: the evidence says otherwise; "
        "neutral: the evidence does not say."
    )
    reason: str = Field(max_length=300, description="One sentence: which quoted words decide it.")


#: `async (request) -> EntailmentJudgement`; `medboard.agents.verifier.model_entailment` builds one.
EntailmentCallback = Callable[[EntailmentRequest], Awaitable[EntailmentJudgement]]


def evidence_quotes(cited: Sequence[CitedEvidence], max_chars: int = 1500) -> tuple[EvidenceQuote, ...]:
    """What each cited source says, as compact text for the entailment model."""
    quotes: list[EvidenceQuote] = []
    for item in cited:
        if not item.exists:
            continue
        lines = []
        for fact in item.all_facts()[:12]:
            value = (
                ""
                if fact.value is None
                else f" = {fact.comparator or ''}{fact.value}{' ' + fact.unit if fact.unit else ''}"
            )
            parts = [f"{fact.label}{value}"]
            for label, field_value in (
                ("status", fact.status),
                ("verification", fact.verification_status),
                ("date", fact.date),
                ("end", fact.end_date),
                ("site", fact.body_site),
                ("laterality", fact.laterality),
            ):
                if field_value:
                    parts.append(f"{label}: {field_value}")
            if fact.text:
                parts.append(f"text: {fact.text}")
            lines.append("; ".join(parts))
        if item.ref.quote:
            lines.append(f"quoted: {item.ref.quote}")
        text = "\n".join(lines) or " ".join(fact_words_of_resource(item.resource or {}))
        quotes.append(EvidenceQuote(item.reference or item.ref.reference, text[:max_chars]))
    return tuple(quotes)


def fact_words_of_resource(resource: dict[str, Any]) -> list[str]:
    from medboard.tools.checks.evidence import _strings

    return list(_strings(resource))


def untrusted_text(statement_text: str, cited: Sequence[CitedEvidence]) -> str | None:
    """Why a model's judgement on this statement cannot be trusted, or None.

    The statement or any cited record text (fact texts, quotes, labels) reading as instructions
    to a model (`medboard.tools.checks.injection`): the entailment model would be reading an
    attacker's prompt, so its answer — either way — decides nothing.
    """
    what = instruction_like(statement_text)
    if what:
        return f"the statement carries {what}"
    for item in cited:
        texts = [item.ref.quote or ""]
        for fact in item.all_facts():
            texts += [fact.text or "", fact.label or "", fact.value if isinstance(fact.value, str) else ""]
        for text in texts:
            what = instruction_like(text)
            if what:
                return f"cited {item.reference or item.ref.reference} carries {what}"
    return None


_LABEL_OF = {
    "entailed": VerdictLabel.supported,
    "contradicted": VerdictLabel.contradicted,
}


async def judge(
    verdict: Verdict,
    request: EntailmentRequest,
    entailment: EntailmentCallback,
    semaphore: asyncio.Semaphore,
    neutral: VerdictLabel,
    contradicting: Collection[str],
) -> Verdict:
    """`verdict` with the callback's judgement on `request` folded in.

    `contradicting` names the checks whose pass means the rules found agreement: a model cannot
    strike a statement those checks confirmed.
    """
    if request.untrusted:
        check = CheckResult(
            name=ENTAILMENT,
            outcome="skip",
            detail=f"model not asked: {request.untrusted} (record text is data, never instructions)",
        )
        reason = f"{verdict.reason}; not put to the model: {request.untrusted}"
        return verdict.model_copy(update={"checks": [*verdict.checks, check], "reason": reason[:500]})
    async with semaphore:
        try:
            judgement = await entailment(request)
        except Exception as error:  # a failing model degrades one statement, visibly
            if type(error).__name__ == "CassetteMissError":
                raise  # strict replay: a missing recording must surface, not degrade
            log.warning("entailment failed for statement %s: %s", request.statement_id, type(error).__name__)
            check = CheckResult(
                name=ENTAILMENT, outcome="skip", detail=f"model check failed: {type(error).__name__}"
            )
            return verdict.model_copy(update={"checks": [*verdict.checks, check]})
    label = _LABEL_OF.get(str(judgement.label), neutral)
    outcome = (
        "pass"
        if label == VerdictLabel.supported
        else "fail"
        if label == VerdictLabel.contradicted
        else "skip"
    )
    reason = re.sub(r"\s+", " ", judgement.reason).strip()
    agreed = [c.name for c in verdict.checks if c.name in contradicting and c.outcome == "pass"]
    if label == VerdictLabel.contradicted and (verdict.verdict == VerdictLabel.supported or agreed):
        # The rules' verdict wins: a model cannot strike what the deterministic checks confirmed.
        check = CheckResult(
            name=ENTAILMENT,
            outcome="skip",
            detail=f"model: contradicted: {reason} — overruled: the rules found agreement "
            f"({', '.join(agreed) or verdict.verdict.value})",
        )
        new_reason = f"{verdict.reason}; the model disagreed (contradicted), the rules' checks passed"
        return verdict.model_copy(update={"checks": [*verdict.checks, check], "reason": new_reason[:500]})
    check = CheckResult(
        name=ENTAILMENT,
        outcome=outcome,  # type: ignore[arg-type]
        detail=f"model: {judgement.label}: {reason}",
        evidence=[EvidenceRef(reference=q.reference) for q in request.evidence if _is_ref(q.reference)],
    )
    if label == VerdictLabel.unverifiable:
        new_reason = f"{verdict.reason}; model found the evidence neutral"
    else:
        new_reason = f"model check: {judgement.label}: {reason}"
    return Verdict(
        statement_id=verdict.statement_id,
        verdict=label,
        reason=new_reason[:500],
        checks=[*verdict.checks, check],
    )


def _is_ref(reference: str) -> bool:
    try:
        EvidenceRef(reference=reference)
    except ValueError:
        return False
    return True
