"""Laterality: the side a statement names against the side the cited evidence records.

The record's side comes from the fact's `laterality` (body-site laterality qualifier), else from
the words of its body site, code displays and text ("...of female left breast"). `bilateral`
covers left and right; a statement naming a side the evidence does not record fails, a statement
naming no side, or evidence with no side, is not judged here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from medboard.models import CheckResult
from medboard.tools.checks.base import Part
from medboard.tools.checks.evidence import CitedEvidence, fact_words
from medboard.tools.checks.extract import Claims
from medboard.tools.checks.text import laterality_mentions, sides_in
from medboard.tools.fhir.record import PatientRecord

LATERALITY_AGREES = "laterality_agrees"


def _expand(sides: set[str]) -> set[str]:
    return (sides - {"bilateral"}) | ({"left", "right"} if "bilateral" in sides else set())


def evidence_sides(cited: Sequence[CitedEvidence]) -> set[str]:
    sides: set[str] = set()
    for item in cited:
        for fact in item.facts:
            if fact.laterality:
                sides.add(fact.laterality)
            else:
                for phrase in fact_words(fact):
                    sides |= sides_in(phrase)
        if item.resource and not item.facts:
            for key in ("bodySite", "code"):
                value = item.resource.get(key)
                for entry in value if isinstance(value, list) else [value] if value else []:
                    sides |= sides_in(str(entry))
    return sides


def check_laterality(
    statement_text: str,
    cited: Sequence[CitedEvidence],
    record: PatientRecord,
    *,
    case_date: date | None = None,
    claims: Claims | None = None,
) -> CheckResult:
    """A named side must be one the cited evidence records (bilateral = both)."""
    del record, case_date, claims
    stated = {side for side, _, _ in laterality_mentions(statement_text)}
    if not stated:
        return CheckResult(name=LATERALITY_AGREES, outcome="skip", detail="no side named")
    recorded = evidence_sides(cited)
    if not recorded:
        return CheckResult(
            name=LATERALITY_AGREES, outcome="skip", detail="the cited evidence records no side"
        )
    evidence = [c.ref for c in cited if c.exists]
    stated_x, recorded_x = _expand(stated), _expand(recorded)
    if stated_x <= recorded_x:
        return CheckResult(
            name=LATERALITY_AGREES,
            outcome="pass",
            detail=f"side {', '.join(sorted(stated))} recorded",
            evidence=evidence,
        )
    if "bilateral" in stated and "bilateral" not in recorded and len(recorded_x) == 1:
        return CheckResult(
            name=LATERALITY_AGREES,
            outcome="fail",
            detail=f"statement says bilateral; cited evidence records {', '.join(sorted(recorded))} only",
            evidence=evidence,
        )
    if stated_x & recorded_x:
        return CheckResult(
            name=LATERALITY_AGREES,
            outcome="skip",
            detail=f"statement names {', '.join(sorted(stated))}; "
            f"evidence records {', '.join(sorted(recorded))}",
        )
    return CheckResult(
        name=LATERALITY_AGREES,
        outcome="fail",
        detail=f"statement says {', '.join(sorted(stated))}; "
        f"cited evidence records {', '.join(sorted(recorded))}",
        evidence=evidence,
    )


def side_parts(statement_text: str, claims: Claims, cited: Sequence[CitedEvidence]) -> list[Part]:
    """Every side the statement names ("left", "bilateral")."""
    del claims, cited
    return [Part(side.strip(), (start, end)) for side, start, end in laterality_mentions(statement_text)]
