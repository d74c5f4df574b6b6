"""`render_board_index`: a board packet's ``index.html``, the agenda a board works from.

One row per case in agenda order: its id, question, headline, discrepancy count, verification
(``41 ✓ · 2 ? · 0 ✗ · 1 struck``, with the words beside the symbols, never colour alone) and a
link to ``cases/<id>/report.html``; a failed case reads FAILED with its reason and has no link.
Same safety as the case report (`medboard.report.html.render`): jinja2 autoescape, control and
bidi characters made visible, the same Content-Security-Policy, no script, nothing loaded; links
are relative, so the packet opens from the file system and from a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from medboard.models.summary import DISCLAIMER
from medboard.report.html.render import CSP, _environment

if TYPE_CHECKING:
    from medboard.report.board import BoardCase, BoardPacket


@dataclass
class Verification:
    """A case's verdict counts as the index shows them."""

    supported: int
    unverifiable: int
    flagged: int  # unsupported + contradicted
    struck: int
    unchecked: int

    @property
    def symbols(self) -> str:
        text = f"{self.supported} ✓ · {self.unverifiable} ? · {self.flagged} ✗ · {self.struck} struck"
        return text + (f" · {self.unchecked} unchecked" if self.unchecked else "")

    @property
    def words(self) -> str:
        return (
            f"{self.supported} supported, {self.unverifiable} unverifiable, {self.flagged} unsupported "
            f"or contradicted, {self.struck} struck"
            + (f", {self.unchecked} not checked" if self.unchecked else "")
        )

    @property
    def status(self) -> str:
        """One word for the row: ``verified`` when nothing is flagged, else ``needs review``."""
        return "needs review" if self.flagged else "verified"


def verification_of(case: BoardCase) -> Verification:
    counts = case.verification
    return Verification(
        supported=counts.get("supported", 0),
        unverifiable=counts.get("unverifiable", 0),
        flagged=counts.get("unsupported", 0) + counts.get("contradicted", 0),
        struck=counts.get("struck", 0),
        unchecked=counts.get("unchecked", 0),
    )


def render_board_index(packet: BoardPacket) -> str:
    """The complete, self-contained HTML document of the board's agenda."""
    rows = [(case, verification_of(case)) for case in packet.cases]
    template = _environment().get_template("board_index.html.j2")
    return str(
        template.render(
            p=packet,
            rows=rows,
            done=sum(1 for c in packet.cases if c.status == "done"),
            failed=len(packet.failed),
            csp=CSP,
            disclaimer=DISCLAIMER,
            started=packet.run.started.isoformat(timespec="seconds"),
            finished=packet.run.finished.isoformat(timespec="seconds"),
        )
    )
