"""The tumour markers of one cancer with their course, compactly.

A marker's course is its values over time; the board wants the first value, the extremes and the
latest, not the arithmetic between them ("0.679 − 3.29 = -2.61 ng/mL (-79.4 %)"). One statement
per marker lists every value when there are few (`LIST_ALL`), else the first, nadir, peak and
latest with the count, citing every value, and cites the specialists' findings it restates (the
latest value, the trend). Kinetics (doubling time, velocity) stay with their specialist's finding
in the appendix: their text is a worked calculation, which the board layout does not restate as
prose, and they carry no structured claim to render compactly.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.draft import CancerDraft
from medboard.models.claims import ClaimedResult, ResultClaim
from medboard.models.picture import Marker, Result
from medboard.tools.checks.text import concept_tokens
from medboard.tools.longitudinal.trends import fmt

#: Up to this many values, every value is listed.
LIST_ALL = 4


def _shown(result: Result) -> str:
    value = (
        fmt(float(result.value))
        if isinstance(result.value, int | float) and not isinstance(result.value, bool)
        else str(result.value)
    )
    unit = f" {result.unit}" if result.unit else ""
    return f"{value}{unit} on {result.date}" if result.date else f"{value}{unit}"


def _numeric(result: Result) -> float | None:
    value = result.value
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _name(draft: CancerDraft, marker: Marker) -> str:
    """The marker's short name when the record's own label says it (PSA ↔ "Prostate specific Ag"),
    else the label of its first result."""
    facts = draft.owner.facts(marker.results[0].source) if marker.results else []
    label = facts[0].label if facts else marker.name
    return marker.name if concept_tokens(marker.name) <= concept_tokens(label) else label


def markers(draft: CancerDraft) -> None:
    for marker in draft.scope.cancer.markers:
        if not marker.results:
            continue
        results = sorted(marker.results, key=lambda r: r.date or "")
        name = _name(draft, marker)
        numeric = [r for r in results if _numeric(r) is not None]
        if len(results) <= LIST_ALL or len(numeric) < len(results):
            stated = results
            text = f"{name}: " + ", ".join(_shown(r) for r in results) + "."
        else:
            low = min(numeric, key=lambda r: (_numeric(r), r.date or ""))
            high = max(numeric, key=lambda r: (_numeric(r), r.date or ""))
            first, latest = results[0], results[-1]
            stated = list({id(r): r for r in (first, low, high, latest)}.values())
            text = (
                f"{name}, {len(results)} values: first {_shown(first)}; nadir {_shown(low)}; "
                f"peak {_shown(high)}; latest {_shown(latest)}."
            )
        claim = ResultClaim(
            kind="marker",
            name=marker.name,
            code=marker.code,
            cancer=draft.scope.cancer.condition,
            results=[ClaimedResult(value=r.value, unit=r.unit, date=r.date, source=r.source) for r in stated],
            facts=list(dict.fromkeys(r.source for r in stated)),
        )
        sources = list(dict.fromkeys(r.source for r in results))
        draft.add(text, evidence=[draft.evidence(s) for s in sources], claim=claim)
