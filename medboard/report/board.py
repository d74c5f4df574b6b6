"""A tumor board's packet: ``index.html`` (the agenda), ``board.json`` and one folder per case.

```
DIR/index.html              the agenda: each case's question, headline, discrepancies, verification,
                            status and a link to its report; a failed case shows FAILED and why
DIR/board.json              `BoardPacket` (`medboard schema --board` prints its JSON Schema)
DIR/cases/<id>/             a done case's summary.json, summary.md, report.html (and images/)
```

A failed case has a row (FAILED, its reason, its exit code) and no folder: nothing under
``cases/`` is ever a partial case. `write_packet` writes everything into a staging folder the
caller then publishes with `medboard.report.publish` (manifest, lock, never deleting what
medboard did not write), so the packet on disk is always one whole board, old or new.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from medboard.errors import MedboardError
from medboard.textsafety import redact_url

if TYPE_CHECKING:
    from medboard.orchestrator.board import CaseOutcome

#: The packet's format: bumped when board.json changes incompatibly.
PACKET_SCHEMA_VERSION = "1.0"
INDEX_FILE = "index.html"
BOARD_FILE = "board.json"
CASES_FOLDER = "cases"


class BoardCase(BaseModel):
    """One case of the board as the packet lists it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: Literal["done", "failed"]
    error: str | None = Field(default=None, description="Why the case failed: one line, no patient data.")
    exit_code: int = Field(default=0, description="0 done; 2 bad input, 3 model endpoint unusable, 1 other.")
    question: str | None = None
    headline: str | None = Field(default=None, description="The summary's headline (done cases).")
    discrepancies: int = Field(default=0, description="How many discrepancies the summary lists.")
    verification: dict[str, int] = Field(
        default_factory=dict,
        description="Statements per verdict label (supported, unsupported, ...), and struck.",
    )
    folder: str | None = Field(
        default=None, description="The case's folder in the packet (cases/<id>); None when it failed."
    )
    seconds: float = Field(default=0.0, description="Wall time of the case.")


class BoardRun(BaseModel):
    """How the board was run."""

    model_config = ConfigDict(extra="forbid")

    medboard_version: str
    model: str = Field(description="The board's --model: 'none', 'local', a replayed cassette or a URL.")
    executor: str
    concurrency: int
    started: datetime
    finished: datetime
    seconds: float


class BoardPacket(BaseModel):
    """board.json: the board, its cases in agenda order, and the run."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = PACKET_SCHEMA_VERSION
    board: str
    date: str
    cases: list[BoardCase]
    run: BoardRun

    @property
    def failed(self) -> list[BoardCase]:
        return [case for case in self.cases if case.status == "failed"]

    def exit_code(self) -> int:
        """0 when every case is done; else the worst case's code (3 over 2 over 1)."""
        codes = {case.exit_code or 1 for case in self.failed}
        return next((code for code in (3, 2, 1) if code in codes), 0)


def describe_model(model: str | None, replay: Path | None = None) -> str:
    """The board's model as board.json and the index show it (a URL without credentials)."""
    if replay is not None:
        return f"replay of {replay.name}"
    if not model:
        return "none"
    return redact_url(model) if model.startswith(("http://", "https://")) else model


def build_packet(
    *,
    board: str,
    date: str,
    outcomes: list[CaseOutcome],
    run: BoardRun,
) -> BoardPacket:
    cases = [
        BoardCase(
            id=o.id,
            status=o.status,
            error=o.error,
            exit_code=o.exit_code if o.status == "failed" else 0,
            question=o.question,
            headline=o.headline,
            discrepancies=o.discrepancies,
            verification=dict(o.verification),
            folder=f"{CASES_FOLDER}/{o.id}" if o.status == "done" else None,
            seconds=o.seconds,
        )
        for o in outcomes
    ]
    return BoardPacket(board=board, date=date, cases=cases, run=run)


class PacketError(MedboardError):
    """A case's output files cannot be placed in the packet (a path leaving its folder)."""


def write_packet(packet: BoardPacket, outcomes: list[CaseOutcome], folder: Path) -> list[str]:
    """Write index.html, board.json and each done case's files into `folder` (a staging folder);
    returns the written paths relative to it. A failed case writes nothing under ``cases/``."""
    from medboard.report.html.board_index import render_board_index

    written: list[str] = []
    for outcome in outcomes:
        if outcome.status != "done":
            continue
        for rel, content in sorted(outcome.files.items()):
            relative = _safe_relative(rel)
            target = folder / CASES_FOLDER / outcome.id / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written.append(f"{CASES_FOLDER}/{outcome.id}/{relative.as_posix()}")
    (folder / BOARD_FILE).write_text(packet.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (folder / INDEX_FILE).write_text(render_board_index(packet), encoding="utf-8")
    return [INDEX_FILE, BOARD_FILE, *written]


def _safe_relative(rel: str) -> PurePosixPath:
    """A worker's file name as a path inside the case folder (never absolute, never ``..``)."""
    path = PurePosixPath(rel)
    if not rel or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or "\\" in rel:
        raise PacketError(f"a case returned a file outside its folder ({rel[:80]!r})")
    return path


def packet_outputs(case_ids: list[str], files: tuple[str, ...]) -> tuple[str, ...]:
    """Every path a packet of these cases may write at the top of `--out` and under ``cases/``
    (for `publish.check_out_folder`: each must be absent or medboard's own)."""
    return (
        INDEX_FILE,
        BOARD_FILE,
        *(f"{CASES_FOLDER}/{case_id}/{name}" for case_id in case_ids for name in files),
    )
