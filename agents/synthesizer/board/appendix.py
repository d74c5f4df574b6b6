"""The appendix: every finding no board section stated, kept whole in `summary.json`.

Nothing a specialist found is dropped from the summary; what a board does not need on its one page
(decades-old urine dipsticks, lipids, every vital sign, trend arithmetic) is listed here, by topic,
and the Markdown collapses it. Findings about the record's quality are the data-quality section's.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Section, SectionKind, default_section

#: Topics in the order the appendix lists them (a specialist's own topics follow, by name).
_TOPIC_ORDER = [
    SectionKind.patient,
    SectionKind.oncologic_history,
    SectionKind.current_status,
    SectionKind.labs_and_trends,
    SectionKind.medications,
    SectionKind.imaging,
]


def appendix(board: Board) -> list[Section]:
    left = board.unused()
    rank: dict[str, int] = {topic: i for i, topic in enumerate(_TOPIC_ORDER)}

    def topic(finding_section: str) -> tuple[int, str]:
        return (rank.get(finding_section, len(rank)), finding_section)

    ordered = sorted(
        enumerate(left),
        key=lambda item: (topic(item[1].section or default_section(item[1].category)), item[0]),
    )
    statements = [state(SectionKind.appendix, f.text, [f]) for _, f in ordered]
    board.take(left)
    return [section(SectionKind.appendix, statements)]
