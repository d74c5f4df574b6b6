"""How the EHR specialist words a fact, and how it builds a finding from one.

Shared by the record-based extractors (`core.py`) and the picture-based ones (`picture.py`,
`biomarkers.py`), so that a fact reads the same whichever path states it: a statement the
verifier already checks word by word keeps its wording when its source moves to the picture.
"""

from __future__ import annotations

from collections.abc import Iterable

from medboard.models import EvidenceRef, Fact, Finding, FindingCategory, iso_day
from medboard.models.claims import ClaimedResult

AGENT = "ehr"


def display_number(value: float | int) -> str:
    """Round for display only (4 significant digits); the finding keeps the exact value."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    text = f"{value:.4g}"
    return f"{value:.1f}" if "e" in text else text


def format_value(fact: Fact) -> str:
    """Display a fact's value with its unit."""
    if fact.value is None:
        return ""
    value = fact.value
    shown = (
        display_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    )
    text = f"{fact.comparator or ''}{shown}"
    return f"{text} {fact.unit}" if fact.unit else text


def place(body_site: str | None, laterality: str | None) -> str:
    """`left breast` from laterality + body site, without repeating a side the site already names."""
    if not body_site:
        return ""
    if laterality and laterality not in body_site.lower():
        return f"{laterality} {body_site}"
    return body_site


def site_text(fact: Fact) -> str:
    return place(fact.body_site, fact.laterality)


def when(fact: Fact) -> str:
    return f" on {iso_day(fact.date)}" if fact.date else ""


def day(text: str | None) -> str | None:
    return iso_day(text) if text else None


def flag_text(fact: Fact) -> str:
    if fact.abnormal and fact.interpretation:
        return f" [{fact.interpretation}]"
    if fact.abnormal:
        return " [abnormal]"
    return ""


def scalar(fact: Fact) -> float | int | str | None:
    return (
        fact.value if isinstance(fact.value, (int, float, str)) and not isinstance(fact.value, bool) else None
    )


def claimed_result(fact: Fact) -> ClaimedResult:
    """The fact's result as a claim: its exact value (the text rounds for display only), unit, day.

    A coded value (``valueCodeableConcept``) is claimed by its display, as the text shows it.
    """
    value = fact.value
    if value is None and fact.value_codes:
        value = fact.value_codes[0].display or fact.value_codes[0].code
    return ClaimedResult(value=value, unit=fact.unit, date=day(fact.date), source=fact.reference)


def finding(
    fact: Fact, category: FindingCategory, text: str, *, tags: Iterable[str] = (), **fields: object
) -> Finding:
    """A finding resting on one fact, citing that fact's evidence."""
    return Finding.create(
        agent=AGENT,
        category=category,
        text=text,
        evidence=[fact.evidence],
        date=fact.date,
        tags=list(tags),
        **fields,
    )


def cited(facts: Iterable[Fact], references: Iterable[str] = ()) -> list[EvidenceRef]:
    """The evidence of `facts`, plus a bare reference for each of `references` no fact cites.

    One entry per resource: a resource that yields several facts (a panel's components) is cited
    once, by the first fact's evidence.
    """
    out: dict[str, EvidenceRef] = {}
    for fact in facts:
        out.setdefault(fact.evidence.reference, fact.evidence)
    for reference in references:
        out.setdefault(reference, EvidenceRef(reference=reference))
    return list(out.values())
