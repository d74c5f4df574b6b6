"""CDS Hooks cards: the pydantic models the response is validated with, and the card builders.

What a clinician opening the chart sees, in order:

1. the headline (``indicator: info``): the summary's headline statements, ``summary`` cut to fit
   the spec's < 140 characters at a word, the whole headline in ``detail`` (Markdown) with how many
   statements the verifier checked and the not-a-diagnostic-device line;
2. one card per discrepancy — two sources in the record that disagree — with the indicator of its
   severity (``info``/``warning``/``critical``) and every side cited in ``detail``;
3. every card links to the full summary (``{public_url}/cases/{id}``, ``type: absolute``).

When the verified summary is not ready within the time budget, the cards come from what is: the
record's discrepancies as the verifier would list them before any finding exists (`early_conflicts`:
the clinical picture's conflicts and the record-level rules, deterministic and fast, not yet part
of a verified summary) and a first card that says the full summary is still being prepared, with
its link.

Record text is data: every value in ``detail`` goes through `escape_markdown` (no live HTML, link,
image or forged structure reaches the EHR's Markdown renderer), and ``summary`` through
`neutralize_line` (no control or bidi characters). Optional attributes are omitted, never null
(the spec forbids null and empty values).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.models.summary import DISCLAIMER, Discrepancy
from medboard.report.escaping import escape_markdown
from medboard.textsafety import neutralize_line

if TYPE_CHECKING:
    from medboard.models import CaseSummary
    from medboard.models.picture import ClinicalPicture
    from medboard.tools.fhir.record import PatientRecord

SOURCE_LABEL = "medboard"
#: The spec: "One-sentence, <140-character summary message".
MAX_SUMMARY_CHARS = 139
Indicator = Literal["info", "warning", "critical"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Coding(_Spec):
    system: str
    code: str
    display: str | None = None


class Source(_Spec):
    label: str = Field(min_length=1)
    url: str | None = None
    topic: Coding | None = None


class Link(_Spec):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1)
    type: Literal["absolute", "smart"]


class Card(_Spec):
    uuid: str = Field(default_factory=lambda: str(uuid.uuid4()))
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    detail: str | None = Field(default=None, min_length=1)
    indicator: Indicator
    source: Source
    links: list[Link] | None = Field(default=None, min_length=1)


class CdsResponse(_Spec):
    cards: list[Card]


def clip(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """`text` on one line, cut at a word to at most `limit` characters (with … when cut)."""
    line = neutralize_line(" ".join(text.split()))
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def _source() -> Source:
    return Source(label=SOURCE_LABEL)


def _links(summary_url: str | None) -> list[Link] | None:
    return (
        [Link(label="Full medboard case summary", url=summary_url, type="absolute")] if summary_url else None
    )


def headline_card(summary: CaseSummary, summary_url: str | None) -> Card:
    section = summary.section("headline")
    sentences = [s.text for s in section.statements] if section is not None else []
    statements = summary.statements()
    supported = sum(1 for s in statements if s.verdict is not None and s.verdict.verdict.value == "supported")
    failed = [s.title for s in summary.sections if s.status in ("failed", "degraded")]
    lines: list[str] = [escape_markdown(text) for text in sentences] or ["The record gave no headline."]
    lines.append(
        f"*{supported} of {len(statements)} statements supported by the record; "
        f"{len(summary.struck)} struck by the verifier.*"
    )
    if failed:
        lines.append(f"*Incomplete sections: {escape_markdown(', '.join(failed))}.*")
    lines.append(f"*{escape_markdown(DISCLAIMER)}*")
    return Card(
        summary=clip(" ".join(sentences) or "medboard: no headline could be written from the record"),
        detail="\n\n".join(lines),
        indicator="info",
        source=_source(),
        links=_links(summary_url),
    )


def discrepancy_card(discrepancy: Discrepancy, summary_url: str | None) -> Card:
    kind = discrepancy.kind.replace("_", " ")
    lines: list[str] = [escape_markdown(discrepancy.description), "", "Sources:"]
    for source in discrepancy.sources:
        quote = f": {escape_markdown(source.quote)}" if source.quote else ""
        lines.append(f"- {escape_markdown(source.reference)}{quote}")
    return Card(
        summary=clip(f"Record conflict ({kind}): {discrepancy.description}"),
        detail="\n".join(lines),
        indicator=discrepancy.severity,
        source=_source(),
        links=_links(summary_url),
    )


def summary_cards(summary: CaseSummary, summary_url: str | None) -> CdsResponse:
    """The cards of a finished, verified summary."""
    cards = [headline_card(summary, summary_url)]
    cards.extend(discrepancy_card(d, summary_url) for d in summary.discrepancies)
    return CdsResponse(cards=cards)


def pending_cards(
    discrepancies: Iterable[Discrepancy], summary_url: str | None, *, reason: str
) -> CdsResponse:
    """The cards answered when the verified summary is not ready: the record's conflicts so far."""
    conflicts = list(discrepancies)
    found = (
        f" The {len(conflicts)} conflict card(s) below come from the reconciled record and are not yet "
        "checked by the verifier."
        if conflicts
        else ""
    )
    first = Card(
        summary=clip(f"medboard: {reason}"),
        detail=f"{escape_markdown(reason.capitalize())}.{found} Open the full summary when it is done."
        + f"\n\n*{escape_markdown(DISCLAIMER)}*",
        indicator="info",
        source=_source(),
        links=_links(summary_url),
    )
    return CdsResponse(cards=[first, *(discrepancy_card(d, summary_url) for d in conflicts)])


def early_conflicts(record: PatientRecord, picture: ClinicalPicture) -> list[Discrepancy]:
    """The conflicts a summary of `record` will list, known before any specialist has run: the
    record-level rules (`find_discrepancies` without findings) merged with the picture's, as the
    verifier merges them (milliseconds, even on the largest shared record)."""
    from medboard.tools.checks.discrepancies import find_discrepancies
    from medboard.tools.checks.pipeline import merge_discrepancies

    return merge_discrepancies(find_discrepancies(record), picture.discrepancies)
