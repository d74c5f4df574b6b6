"""A tumor board: many cases from one agenda, run with bounded concurrency, one packet out.

The seam between the board and whatever runs its cases is two picklable models and one
coroutine: `CaseJob` (everything a worker needs to run one case, no open handles), `CaseOutcome`
(what came back: status, one-line error, the case's output files as bytes) and `run_job`. An
`Executor` runs a list of jobs (`LocalExecutor`: asyncio in this process; others register in
`EXECUTORS`), so the agenda, the CLI and the packet never know where a case ran.
"""

from __future__ import annotations

from medboard.orchestrator.board.agenda import Agenda, load_agenda
from medboard.orchestrator.board.executors import EXECUTORS, Executor, LocalExecutor, make_executor
from medboard.orchestrator.board.jobs import CaseJob, CaseOutcome, run_job

__all__ = [
    "EXECUTORS",
    "Agenda",
    "CaseJob",
    "CaseOutcome",
    "Executor",
    "LocalExecutor",
    "load_agenda",
    "make_executor",
    "run_job",
]
