"""One section per cancer (kind ``cancer``, titled by the cancer, subject its Condition).

A board reads a case one cancer at a time, in the order a presenter speaks: what the cancer is and
how it was established, how far it had spread and how that was worked up, what its specimens and
biomarkers showed, how it was treated (a table: `therapy.COLUMNS`), how its markers moved, and
what later tests followed. Each part is its own module; this one runs them in that order over a
`CancerDraft` per cancer and asks, as open questions, for what the cancer's type calls for and the
record lacks (`medboard.tools.reconcile.expected_tests`) and for how it was diagnosed when no
biopsy or pathology is recorded.

What is a cancer's: findings whose structured claim names one of its conditions (diagnosis, stage,
biomarker, marker, line — a metastasis of the same cancer is folded into its primary's section),
and the record items `scope.collect` gives it (procedures, imaging studies, pathology and imaging
reports, results of its specimens), with every finding that rests only on them. Each fact is stated
once: repeated procedures become one row or statement citing every record.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board import diagnosis as dx
from medboard.agents.synthesizer.board.base import Board, section
from medboard.agents.synthesizer.board.draft import CancerDraft, claim_cancer
from medboard.agents.synthesizer.board.markers import markers
from medboard.agents.synthesizer.board.pathology import biomarkers, pathology
from medboard.agents.synthesizer.board.scope import Items, Owner, collect, role_of, scopes
from medboard.agents.synthesizer.board.therapy import COLUMNS, therapy
from medboard.models import Finding, Section, SectionKind
from medboard.models.picture import Cancer, ClinicalPicture
from medboard.tools.reconcile.expected_tests import missing_tests

NO_TISSUE_DIAGNOSIS = "No biopsy, cytology or pathology report is recorded for this diagnosis."


def cancer_of(finding: Finding) -> str | None:
    """The cancer (its Condition reference) a finding's claim is about, if it names one."""
    return claim_cancer(finding)


def belongs(finding: Finding, cancer: Cancer) -> bool:
    owner = cancer_of(finding)
    return owner is not None and owner in {cancer.condition, *cancer.conditions}


def _stated_by_picture(picture: ClinicalPicture) -> set[str]:
    """Record items the picture states per cancer (biomarker, marker, stage and line sources)."""
    refs: set[str] = set()
    for cancer in picture.cancers:
        refs |= {r.source for b in cancer.biomarkers for r in b.results}
        refs |= {r.source for m in cancer.markers for r in m.results}
        refs |= {s for stage in cancer.stages for s in stage.sources}
        refs |= {s for line in cancer.lines for s in line.sources}
    return refs


def cancers(board: Board) -> list[Section]:
    picture = board.picture
    owner = Owner(scopes(picture, board.record), board.record)
    owned = collect(owner, _stated_by_picture(picture))
    out = []
    for scope in owner.scopes:
        draft = CancerDraft(board, scope, owner)
        items = owned[scope.cancer.condition]
        _write(draft, items)
        out.append(
            section(
                SectionKind.cancer,
                draft.statements,
                title=scope.cancer.name,
                subject=scope.cancer.condition,
                columns=COLUMNS if any(s.cells for s in draft.statements) else None,
                open_questions=draft.questions,
            )
        )
    return out


def _write(draft: CancerDraft, items: Items) -> None:
    dx.diagnosis(draft, items)
    dx.established(draft, items)
    dx.stages(draft)
    dx.tests_around_diagnosis(draft, items)
    pathology(draft, items)
    biomarkers(draft)
    therapy(draft, items)
    markers(draft)
    dx.later_tests(draft, items)
    # whatever else names this cancer, or rests only on what the section cites
    for finding in draft.board.where(draft.mine):
        draft.verbatim(finding)
    draft.restate(draft.refs)
    _questions(draft, items)


def _questions(draft: CancerDraft, items: Items) -> None:
    """What the record lacks for this cancer. Asked only with the record at hand: without it, a
    result the picture does not carry (a Gleason grade read as a lab) could not be seen."""
    record = draft.board.record
    if record is None:
        return
    missing = missing_tests(draft.scope.cancer, record.facts, draft.board.picture.cancers)
    if missing is not None:
        draft.questions.append(missing.question())
    tissue = any(role_of(f) in ("biopsy", "pathology") for f in (*items.procedures, *items.reports))
    if not tissue and not draft.scope.cancer.histology:
        draft.questions.append(NO_TISSUE_DIAGNOSIS)
