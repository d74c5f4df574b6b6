"""Risk factors and history: the patient's smoking and the family's disease, as the EHR filed them.

The EHR specialist files these findings under the ``history`` topic (`agents/ehr/history.py`):
the latest smoking status with pack-years, and one finding per relative. They are stated here
verbatim — each carries the record's words, numbers and dates the verifier checks — smoking first,
then relatives with a cancer (the family history a germline result is read against), then the rest.
The section sits right after the therapy context (order 45 in `BOARD_SECTIONS`), so a reader of a
cancer's section meets the family history before imaging and data quality.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Finding, FindingCategory, Section, SectionKind

_ORDER = {FindingCategory.social_history: 0, FindingCategory.family_history: 1}


def _rank(finding: Finding) -> tuple[int, bool]:
    return (_ORDER.get(finding.category, 2), "cancer_in_family" not in finding.tags)


def history(board: Board) -> list[Section]:
    mine = sorted(board.where(lambda f: f.section == SectionKind.history), key=_rank)
    board.take(mine)
    kind = SectionKind.history
    return [section(kind, [state(kind, f.text, [f]) for f in mine])]
