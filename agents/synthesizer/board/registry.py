"""The board layout's blocks, in the order they run (a block is one module and one line here).

Order matters twice: a block states the findings it takes, so a fact appears in the first block
that claims it (a biomarker in its cancer's section, not again under key labs), and the appendix
runs last to keep whatever no block took. Sections are then laid out by `BOARD_SECTIONS` order,
whatever order the blocks ran in.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.answer import answer
from medboard.agents.synthesizer.board.appendix import appendix
from medboard.agents.synthesizer.board.base import Block
from medboard.agents.synthesizer.board.cancers import cancers
from medboard.agents.synthesizer.board.data_quality import data_quality
from medboard.agents.synthesizer.board.declared import declared
from medboard.agents.synthesizer.board.headline import headline
from medboard.agents.synthesizer.board.history import history
from medboard.agents.synthesizer.board.imaging import imaging
from medboard.agents.synthesizer.board.key_labs import key_labs
from medboard.agents.synthesizer.board.medications import medications
from medboard.agents.synthesizer.board.open_questions import open_questions

DEFAULT_BLOCKS: tuple[Block, ...] = (
    headline,
    answer,
    data_quality,
    cancers,
    medications,
    key_labs,
    imaging,
    declared,
    open_questions,
    history,
    appendix,
)
