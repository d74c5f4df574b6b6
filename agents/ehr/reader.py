"""The EHR reader's model layer: clinical free text → findings that quote their source exactly.

Report conclusions, presentedForm and clinical notes are read by MedGemma, one single-turn request
per text after the shared case context. A model finding whose quote is not found verbatim in its
source is dropped and listed: the model cannot introduce a fact the note does not contain, and
instructions hidden in a note cannot reach any other finding, because the deterministic findings
never pass through the model.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.agents.ehr.core import AGENT
from medboard.agents.ehr.prompts import READ_INSTRUCTION
from medboard.agents.prompting import data_block, shared_messages
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory

log = logging.getLogger(__name__)

MAX_TEXTS = 3
MAX_TEXT_CHARS = 4_000

TextCategory = Literal[
    "diagnosis", "staging", "biomarker", "procedure", "medication", "imaging", "note", "other"
]


class TextFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=300, description="The finding, in one sentence.")
    category: TextCategory
    quote: str = Field(max_length=300, description="The exact span of the source text it rests on.")


class TextReading(BaseModel):
    """`findings` is required (an empty list says "nothing found"): `{}` or `{"foo": 1}` is a
    schema violation, never a silent "no findings"."""

    model_config = ConfigDict(extra="forbid")

    findings: list[TextFinding] = Field(max_length=6)


def free_texts(facts: list[Fact], limit: int = MAX_TEXTS) -> list[Fact]:
    """The most recent documents and reports that carry free text worth reading."""
    texts = [f for f in facts if f.kind in (FactKind.document, FactKind.report) and (f.text or "").strip()]
    texts.sort(key=lambda f: (f.date or "", f.id), reverse=True)
    return texts[:limit]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def grounded(quote: str, source: str) -> bool:
    """True when the quote appears verbatim (up to whitespace and case) in the source text."""
    q = normalise(quote)
    return len(q) >= 3 and q in normalise(source)


async def read_text(caller: Any, context_text: str, source: Fact, *, agent: str = AGENT) -> list[Finding]:
    """Read one text: the grounded findings (quotes found verbatim), citing the text's resource."""
    text = (source.text or "")[:MAX_TEXT_CHARS]
    instruction = f"{READ_INSTRUCTION}\n{data_block(source.id, text, max_chars=MAX_TEXT_CHARS)}"
    result = await caller.structured(
        messages=shared_messages(context_text, instruction),
        schema=TextReading,
        agent=agent,
        purpose=f"read {source.kind.value}",
    )
    reading: TextReading = result.value
    findings = []
    dropped = []
    for item in reading.findings:
        if not grounded(item.quote, text):
            dropped.append(item.quote[:60])
            continue
        evidence = EvidenceRef(reference=source.evidence.reference, path="text", quote=item.quote.strip())
        category = (
            FindingCategory(item.category)
            if item.category in FindingCategory.__members__
            else (FindingCategory.note)
        )
        findings.append(
            Finding.create(
                agent=agent,
                category=category,
                text=item.text.strip(),
                evidence=[evidence],
                method="model",
                date=source.date,
                confidence=0.6,
                tags=["from-text"],
            )
        )
    if dropped and findings:
        findings[-1].notes.append(f"{len(dropped)} model finding(s) dropped: quote not found in source")
    elif dropped:
        log.info("ehr: %d ungrounded model findings dropped for one text", len(dropped))
    return findings
