"""Current medications (reconciled: only what the picture calls current) and fitness for treatment.

One table, because a board reads them together when it asks "can this patient have it?":

- **performance status** (the EHR specialist's finding, when no cancer section stated it);
- **current medications** — the EHR specialist files them under the ``medications`` topic with a
  `MedicationClaim` (current, on hold, recently stopped: never a stale order, which is a
  data-quality problem); anticoagulants and antiplatelet agents are named as such (ATC B01,
  `tools/reconcile/fitness.py`) and listed first;
- **fitness comorbidities** — active conditions whose code is in the comorbidity table (heart
  failure, kidney disease, diabetes, hearing loss, neuropathy, ...), each restating the finding
  that names it when there is one ("Active problem: …", taken), else worded from the record;
- **ejection fraction** — the latest LVEF (by LOINC code) from the picture's series, restating the
  specialist's finding of that value when there is one.

A statement restating one finding keeps its words (and so its claim); the table's first column
names the fitness concept the code table matched.
"""

from __future__ import annotations

from datetime import date

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.figures import label, point_fact, quantity
from medboard.agents.synthesizer.board.treatment import case_day, to_day
from medboard.models import (
    EvidenceRef,
    Fact,
    FactKind,
    Finding,
    FindingCategory,
    Section,
    SectionKind,
    Statement,
)
from medboard.models.claims import ClaimedResult, MedicationClaim, ResultClaim
from medboard.models.fact_kinds import ConditionDetails
from medboard.tools.reconcile.fitness import COMORBIDITIES, LVEF_CODES, Comorbidity, comorbidity, drug_class

COLUMNS = ["Kind", "Item", "Status / value", "Date"]

#: Clinical statuses of a condition that still weighs on fitness (FHIR condition-clinical).
_ACTIVE = {"active", "recurrence", "relapse"}
_NOT_A_DIAGNOSIS = {"refuted", "entered-in-error"}


def medications(board: Board) -> list[Section]:
    statements = [
        *_performance_status(board),
        *_current_medications(board),
        *_comorbidities(board),
        *_ejection_fraction(board),
    ]
    return [section(SectionKind.medications, statements, columns=COLUMNS)]


def _performance_status(board: Board) -> list[Statement]:
    found = board.where(lambda f: f.category == FindingCategory.performance_status)
    board.take(found)
    out = []
    for finding in found:
        claim = finding.claim
        result = claim.results[-1] if isinstance(claim, ResultClaim) and claim.results else None
        shown = str(result.value) if result is not None and result.value is not None else ""
        name = claim.name if isinstance(claim, ResultClaim) else "Performance status"
        cells = ["Performance status", name, shown, _day(result.date if result else finding.date)]
        out.append(state(SectionKind.medications, finding.text, [finding], cells=cells))
    return out


def _current_medications(board: Board) -> list[Statement]:
    found = board.where(lambda f: f.section == SectionKind.medications)
    board.take(found)
    rows = []
    for index, finding in enumerate(found):
        claim = finding.claim
        ingredient = claim.ingredient if isinstance(claim, MedicationClaim) else _first_words(finding.text)
        status = claim.status if isinstance(claim, MedicationClaim) else ", ".join(finding.tags)
        when = claim.last_evidence_date if isinstance(claim, MedicationClaim) else finding.date
        kind = drug_class(ingredient)
        cells = [kind.capitalize() if kind else "Medication", ingredient, status, _day(when)]
        rows.append(
            ((0 if kind else 1, index), state(SectionKind.medications, finding.text, [finding], cells=cells))
        )
    return [statement for _, statement in sorted(rows, key=lambda r: r[0])]


def _comorbidities(board: Board) -> list[Statement]:
    """Active fitness conditions of the record, in the comorbidity table's order.

    One row per condition (the same diagnosis recorded again at a later encounter is one row,
    citing every record of it), worded by the specialist's finding when there is one.
    """
    if board.record is None:
        return []
    today = case_day(board.picture)
    order = {c.key: i for i, c in enumerate(COMORBIDITIES)}
    groups: dict[tuple[str, str], list[Fact]] = {}
    concepts: dict[tuple[str, str], Comorbidity] = {}
    for fact in board.record.facts_of(FactKind.condition):
        concept = comorbidity(fact.codes)
        if concept is None or not _active(fact, today):
            continue
        if isinstance(fact.details, ConditionDetails) and fact.details.cancer:
            continue
        key = (concept.key, label(fact.label).lower())
        groups.setdefault(key, []).append(fact)
        concepts[key] = concept
    rows = []
    for key, facts in groups.items():
        facts.sort(key=lambda f: _day(f.date))
        first, refs = facts[0], {f.reference for f in facts}
        naming = board.where(lambda f, r=refs: _names_condition(f, r))
        board.take(naming)
        cells = [concepts[key].label, label(first.label), first.status or "", _day(first.date)]
        if naming:
            evidence = [f.evidence for f in facts]  # every record of the diagnosis
            statement = state(SectionKind.medications, naming[0].text, naming, evidence=evidence, cells=cells)
        else:
            onset = f", onset {_day(first.date)}" if first.date else ""
            heading = "Active problem" if first.status else "Problem"
            statement = state(
                SectionKind.medications,
                f"{heading}: {label(first.label)}{onset}.",
                evidence=[f.evidence for f in facts],
                cells=cells,
            )
        rows.append(((order[concepts[key].key], _day(first.date)), statement))
    return [statement for _, statement in sorted(rows, key=lambda r: r[0])]


def _ejection_fraction(board: Board) -> list[Statement]:
    """The latest LVEF (the most recent of every LVEF series)."""
    series = [s for s in board.picture.labs if s.code in LVEF_CODES and s.points]
    if not series:
        return []
    latest_series = max(series, key=lambda s: (to_day(s.points[-1].date) or date.min, s.name))
    point = latest_series.points[-1]
    naming = board.where(
        lambda f: (
            isinstance(f.claim, ResultClaim)
            and f.category != FindingCategory.trend
            and f.claim.code == latest_series.code
            and any(e.reference == point.source for e in f.evidence)
        )
    )
    board.take(naming)
    value = quantity(point.value, latest_series.unit)
    cells = ["LVEF", latest_series.name, value, _day(point.date)]
    if naming:
        return [state(SectionKind.medications, naming[0].text, naming, cells=cells)]
    fact = point_fact(board.record, point.source, latest_series)
    claim = ResultClaim(
        kind="vital",
        name=latest_series.name,
        code=latest_series.code,
        results=[
            ClaimedResult(value=point.value, unit=latest_series.unit, date=point.date, source=point.source)
        ],
        facts=[point.source],
    )
    evidence = [fact.evidence] if fact is not None else [EvidenceRef(reference=point.source)]
    text = f"{label(latest_series.name)}: {value} on {_day(point.date)}."
    return [state(SectionKind.medications, text, evidence=evidence, claim=claim, cells=cells)]


def _active(fact: Fact, today: date | None) -> bool:
    """Still weighs on fitness at the case date: clinically active, not refuted, not abated."""
    if (fact.verification_status or "").lower() in _NOT_A_DIAGNOSIS:
        return False
    status = (fact.status or "").lower()
    if status and status not in _ACTIVE:
        return False
    ended = to_day(fact.end_date)
    return ended is None or today is None or ended > today


def _names_condition(finding: Finding, references: set[str]) -> bool:
    """A diagnosis finding about these Conditions only ("Active problem: …")."""
    cited = {e.reference for e in finding.evidence}
    return finding.category == FindingCategory.diagnosis and bool(cited) and cited <= references


def _first_words(text: str) -> str:
    return text.split(":", 1)[-1].strip().split(" (")[0].rstrip(".")


def _day(text: str | None) -> str:
    day = to_day(text)
    return day.isoformat() if day is not None else (text or "")
