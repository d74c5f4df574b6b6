"""The answer to the board question without a model: its premises checked, then the facts it names.

Without a model nothing may be concluded, but two things can be said deterministically and cited:

1. **Premise checks** (`premises.check_premises`): each assumption the question makes ("after
   neoadjuvant therapy", "her current line", "HER2-positive") against the record's timeline and
   picture — first, because a false premise changes what the question means.
2. **The facts the question's own concepts select** (`premises.question_concepts`): the surgery
   and radiotherapy it names, the lines of therapy when it names therapy or timing, the drugs,
   biomarkers, stage and cancer it names — not every finding that happens to share a word with it.
   Only when the question names none of these does the answer fall back to word overlap
   (`gaps.relevant_to_question`).

Like the headline, the answer restates what the sections state in full, so it takes nothing.
With a model, MedGemma writes the answer (`model_text.py`) and this block writes nothing.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.board.casefacts import line_period, of_cancer, short
from medboard.agents.synthesizer.board.premises import (
    Concepts,
    Event,
    Premise,
    check_premises,
    procedure_mentions,
    question_concepts,
    timeline_events,
)
from medboard.agents.synthesizer.gaps import missing_information, relevant_to_question
from medboard.models import Finding, Section, SectionKind, Statement
from medboard.models.claims import LineClaim, MedicationClaim, ResultClaim
from medboard.tools.reconcile.knowledge import site_of_text

NO_MODEL = "No model answered the question: its premises, checked, and the record's facts it names follow."
MAX_FALLBACK = 8
_DATA_QUALITY = frozenset({"data_quality", "data-quality"})


def answer(board: Board) -> list[Section]:
    if not board.question or board.answered_by_model:
        return []
    concepts = question_concepts(board.question, board)
    premises = check_premises(board, concepts)
    statements = [premise_statement(p) for p in premises] + fact_statements(board, concepts)
    out = section(
        SectionKind.answer,
        _unique(statements),
        open_questions=[*not_in_record(board, concepts), *missing_information(board.findings, board.picture)],
    )
    out.status = "degraded"
    out.error = NO_MODEL
    return [out]


def premise_statement(premise: Premise) -> Statement:
    return state(SectionKind.answer, premise.text, list(premise.findings))


def fact_statements(board: Board, concepts: Concepts) -> list[Statement]:
    """The facts the question names, the record's own sentences where one finding says it."""
    chosen: list[Finding] = []
    statements: list[Statement] = []
    cancers = board.picture.cancers
    for site, _ in concepts.sites:
        for cancer in cancers:
            if site_of_text(cancer.name, cancer.body_site) == site:
                chosen += of_cancer(board, cancer, "diagnosis")
    if concepts.stages or concepts.metastatic:
        for cancer in cancers:
            chosen += of_cancer(board, cancer, "stage")
            if cancer.kind == "secondary":
                chosen += of_cancer(board, cancer, "diagnosis")
    keys = {key for key, _, _ in concepts.biomarkers}
    for cancer in cancers:
        for f in of_cancer(board, cancer, "result", "biomarker"):
            if isinstance(f.claim, ResultClaim) and f.claim.name.lower().replace("-", "") in keys:
                chosen.append(f)
    chosen += marker_findings(board, concepts.markers)
    drugs = set(concepts.drugs) | {d for _, named, _ in concepts.on_drug for d in named}
    chosen += [
        f for f in board.findings if isinstance(f.claim, MedicationClaim) and f.claim.ingredient in drugs
    ]
    statements += [
        state(SectionKind.answer, f.text, [f]) for f in _unique_findings(chosen) if not _quality(f)
    ]

    events = timeline_events(board)
    wants_therapy = concepts.therapy
    for event in events:
        if (event.kind == "surgery" and (concepts.surgery or concepts.timing)) or (
            event.kind == "radiotherapy" and (concepts.radiotherapy or wants_therapy)
        ):
            statements.append(_event_statement(event))
    # a procedure the question names that the timeline does not count (a polypectomy), once: a
    # finding citing a procedure already stated is the same procedure in other words
    stated = {e.reference for s in statements for e in s.evidence}
    for f in procedure_mentions(board, board.question or ""):
        refs = {e.reference for e in f.evidence}
        if not refs & stated and not _quality(f):
            statements.append(state(SectionKind.answer, f.text, [f]))
            stated |= refs
    lines = [e for e in events if e.kind == "line"]
    if lines and (wants_therapy or drugs):
        statements.append(lines_statement(board, lines))
    if not statements and concepts.empty():
        relevant = relevant_to_question(board.question or "", board.findings, limit=MAX_FALLBACK)
        statements = [state(SectionKind.answer, f.text, [f]) for f in relevant if not _quality(f)]
    return statements


def marker_findings(board: Board, codes: list[str]) -> list[Finding]:
    """For each tumour marker named: its course (the series finding with the most values, else its
    latest result) and its kinetics."""
    out: list[Finding] = []
    for code in codes:
        mine = [
            f
            for f in board.findings
            if isinstance(f.claim, ResultClaim) and f.claim.kind == "marker" and f.claim.code == code
        ]
        kinetics = [f for f in mine if "kinetics" in f.tags]
        series = [f for f in mine if "kinetics" not in f.tags and isinstance(f.claim, ResultClaim)]
        if series:
            out.append(
                max(series, key=lambda f: len(f.claim.results) if isinstance(f.claim, ResultClaim) else 0)
            )
        out += kinetics
    return out


def _event_statement(event: Event) -> Statement:
    """A procedure as its best finding says it (the timeline's own sentence, with its claim)."""
    best = event.findings[0]
    return state(SectionKind.answer, best.text, [best])


def lines_statement(board: Board, lines: list[Event]) -> Statement:
    """Every line of therapy in one sentence: ``line 1 X 2018-04-12 – 2018-09-30; line 2 Y since
    2018-09-30 (current)``."""
    names = {c.condition: short(c.name) for c in board.picture.cancers}
    by_cancer: dict[str | None, list[str]] = {}
    for line in lines:
        said = next(f.claim for f in line.findings if isinstance(f.claim, LineClaim))
        current = " (current)" if said.status == "current" else ""
        mine = by_cancer.setdefault(said.cancer, [])
        mine.append(f"line {len(mine) + 1} {line.label} {line_period(board, said)}{current}")
    if len(by_cancer) == 1:
        said_all = "; ".join(next(iter(by_cancer.values())))
    else:  # lines are numbered per cancer, as the picture numbers them
        said_all = "; ".join(
            f"for {names.get(cancer or '', 'no cancer assigned')}: {'; '.join(parts)}"
            for cancer, parts in by_cancer.items()
        )
    findings = [f for line in lines for f in line.findings]
    return state(SectionKind.answer, f"Lines of therapy: {said_all}.", findings)


def not_in_record(board: Board, concepts: Concepts) -> list[str]:
    """Drugs the question names that the record never mentions (an open question, not a fact)."""
    given = {m.ingredient for m in board.picture.medications} | {
        d for c in board.picture.cancers for line in c.lines for d in line.drugs
    }
    named = list(dict.fromkeys([*concepts.drugs, *(d for _, ds, _ in concepts.on_drug for d in ds)]))
    return [f"The record has no {drug}: the question names it." for drug in named if drug not in given]


def _quality(finding: Finding) -> bool:
    return bool(_DATA_QUALITY & set(finding.tags))


def _unique_findings(findings: list[Finding]) -> list[Finding]:
    return list({f.id: f for f in findings}.values())


def _unique(statements: list[Statement]) -> list[Statement]:
    return list({s.id: s for s in statements}.values())


__all__ = ["NO_MODEL", "answer", "fact_statements", "lines_statement", "not_in_record", "premise_statement"]
