"""What every board block shares: the case's picture and findings, and which findings are stated.

A *block* (`Block`) writes one or more sections of the board layout
(`medboard.models.sections.BOARD_SECTIONS`) from the clinical picture and the specialists'
findings. Blocks run in the registry's order (`registry.DEFAULT_BLOCKS`) over one `Board`, which
remembers which findings a block has stated (`Board.take`): a fact is stated once, where a board
reads it first, and whatever no block took goes to the appendix. The headline is the one block that
restates (it summarises what the sections state in full) and takes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medboard.models import EvidenceRef, Finding, Section, SectionSpec, Statement
from medboard.models.claims import Claim
from medboard.models.picture import ClinicalPicture
from medboard.models.sections import BOARD_BY_KIND

if TYPE_CHECKING:
    from medboard.tools.fhir.record import PatientRecord


@dataclass
class Board:
    """One draft under construction (see the module docstring)."""

    picture: ClinicalPicture
    findings: list[Finding]
    #: The record the picture was built from: for what the picture summarises away (a stop's
    #: reason, how many administrations a line had). Read-only.
    record: PatientRecord | None = None
    question: str | None = None
    #: The model answered the question (the answer block then writes nothing of its own).
    answered_by_model: bool = False
    #: Sections the specialists declare beyond the built-ins (`SectionSpec`s).
    declared: tuple[SectionSpec, ...] = ()
    used: set[str] = field(default_factory=set)

    def take(self, findings: Iterable[Finding]) -> None:
        """Mark findings as stated, so no later block (nor the appendix) states them again."""
        self.used.update(f.id for f in findings)

    def unused(self) -> list[Finding]:
        return [f for f in self.findings if f.id not in self.used]

    def where(self, predicate: Callable[[Finding], bool], *, unused_only: bool = True) -> list[Finding]:
        pool = self.unused() if unused_only else self.findings
        return [f for f in pool if predicate(f)]


#: `(board) -> sections`: one block of the layout. A block that has nothing to say returns its
#: section empty (status "empty") rather than nothing, so the layout is the same on every case —
#: except `cancer`, laid out once per cancer.
Block = Callable[[Board], list[Section]]


def statement_id(section: str, text: str, finding_ids: Iterable[str]) -> str:
    digest = hashlib.sha256("\x1f".join([str(section), text, *sorted(finding_ids)]).encode()).hexdigest()
    return f"st-{digest[:10]}"


def state(
    section: str,
    text: str,
    findings: Sequence[Finding] = (),
    *,
    evidence: Iterable[EvidenceRef] = (),
    claim: Claim | None = None,
    cells: list[str] | None = None,
) -> Statement:
    """A statement citing `findings` (and their evidence) plus any extra `evidence` they do not cite.

    `claim` defaults to the finding's own when the statement restates exactly one finding's text;
    a statement that summarises several findings, or rewords one, carries only the claim it is given.
    """
    refs: list[EvidenceRef] = []
    seen: set[tuple[str, str | None]] = set()
    for ref in [ref for f in findings for ref in f.evidence]:
        if (ref.reference, ref.path) not in seen:
            seen.add((ref.reference, ref.path))
            refs.append(ref)
    # Extra evidence a cited finding already carries is left out: the finding cites it with its
    # element path, and the same resource twice would be counted twice.
    have = {ref.reference for ref in refs}
    for ref in evidence:
        if ref.reference not in have:
            have.add(ref.reference)
            refs.append(ref)
    if claim is None and len(findings) == 1 and findings[0].text == text:
        claim = findings[0].claim
    ids = [f.id for f in findings]
    return Statement(
        id=statement_id(section, text, ids),
        text=text,
        finding_ids=ids,
        evidence=refs,
        claim=claim,
        cells=cells,
    )


def section(
    kind: str,
    statements: list[Statement],
    *,
    title: str | None = None,
    subject: str | None = None,
    columns: list[str] | None = None,
    open_questions: list[str] | None = None,
) -> Section:
    """A board section; "empty" when it states nothing and asks nothing."""
    questions = list(dict.fromkeys(open_questions or []))
    spec = BOARD_BY_KIND.get(kind)
    return Section(
        kind=kind,
        title=title or (spec.title if spec else kind.replace("_", " ").capitalize()),
        subject=subject,
        columns=columns if statements else None,
        statements=statements,
        open_questions=questions,
        status="ok" if statements or questions else "empty",
    )
