"""One section per cancer of the picture (kind ``cancer``, titled by the cancer).

A finding belongs to a cancer when its structured claim names one of the cancer's conditions
(diagnosis, stage, biomarker or marker result, line of therapy).
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Finding, Section, SectionKind
from medboard.models.picture import Cancer


def cancer_of(finding: Finding) -> str | None:
    """The cancer (its Condition reference) a finding's claim is about, if it names one."""
    claim = finding.claim
    if claim is None:
        return None
    if claim.concept == "diagnosis":
        return claim.condition
    return getattr(claim, "cancer", None)


def belongs(finding: Finding, cancer: Cancer) -> bool:
    owner = cancer_of(finding)
    return owner is not None and owner in {cancer.condition, *cancer.conditions}


def cancers(board: Board) -> list[Section]:
    out = []
    for cancer in board.picture.cancers:
        mine = board.where(lambda f, c=cancer: belongs(f, c))
        board.take(mine)
        statements = [state(SectionKind.cancer, f.text, [f]) for f in mine]
        out.append(section(SectionKind.cancer, statements, title=cancer.name, subject=cancer.condition))
    return out
