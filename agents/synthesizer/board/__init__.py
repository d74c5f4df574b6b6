"""The board-ready summary: a headline, one section per cancer, key labs, one page (issue: board layout).

`compose_board(board)` runs the blocks of `registry.DEFAULT_BLOCKS` over one `Board` and lays the
sections out in `BOARD_SECTIONS` order. Each block is a module of this package; see `base.py` for
what they share.
"""

from __future__ import annotations

from collections.abc import Sequence

from medboard.agents.synthesizer.board.base import Block, Board, section, state
from medboard.agents.synthesizer.board.registry import DEFAULT_BLOCKS
from medboard.models import Section
from medboard.models.sections import BOARD_BY_KIND


def compose_board(board: Board, blocks: Sequence[Block] = DEFAULT_BLOCKS) -> list[Section]:
    """Every block's sections, laid out by the board order (a specialist's own by its `order`)."""
    produced: list[Section] = []
    for block in blocks:
        produced.extend(block(board))
    declared = {spec.kind: spec.order for spec in board.declared}

    def order(item: tuple[int, Section]) -> tuple[int, int]:
        index, sec = item
        spec = BOARD_BY_KIND.get(sec.kind)
        return (spec.order if spec else declared.get(sec.kind, 900), index)

    return [sec for _, sec in sorted(enumerate(produced), key=order)]


__all__ = ["Block", "Board", "compose_board", "section", "state"]
