"""Executors: where a board's cases run. The board hands over jobs and gets outcomes in order.

`LocalExecutor` runs them as asyncio tasks in this process with at most `concurrency` cases in
flight (a `Semaphore`): a case spends nearly all its time awaiting the model, so one process
overlaps them well. Other executors (Ray, Helper F) register a factory in `EXECUTORS`; the CLI's
``--executor NAME`` picks one. Every executor returns one `CaseOutcome` per job, in the jobs'
order, and turns a case's failure into a failed outcome rather than an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from medboard.errors import MedboardInputError
from medboard.orchestrator.board.jobs import CaseJob, CaseOutcome, run_job
from medboard.orchestrator.board.ray_executor import RayExecutor

#: ``progress(case_id, stage)``: a case's stage as it runs ("queued", "loading", "agent: status",
#: "rendering", "done", "failed").
BoardProgress = Callable[[str, str], None]


class Executor(Protocol):
    async def run_all(
        self, jobs: list[CaseJob], *, concurrency: int, progress: BoardProgress
    ) -> list[CaseOutcome]: ...


class LocalExecutor:
    """Cases as asyncio tasks in this process, at most `concurrency` at a time; `gate` (a
    `medboard.llm.gate.CallGate`) caps model calls across them when given."""

    def __init__(self, *, gate: Any | None = None, **_: Any) -> None:
        self.gate = gate

    async def run_all(
        self, jobs: list[CaseJob], *, concurrency: int, progress: BoardProgress
    ) -> list[CaseOutcome]:
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(job: CaseJob) -> CaseOutcome:
            progress(job.id, "queued")
            async with slots:
                outcome = await run_job(job, gate=self.gate, progress=lambda stage: progress(job.id, stage))
            progress(job.id, outcome.status)
            return outcome

        return list(await asyncio.gather(*(one(job) for job in jobs)))


#: Executor factories by ``--executor`` name; a factory takes keyword options (``gate=``, …).
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "ray": RayExecutor}


def make_executor(name: str, **options: Any) -> Executor:
    """The executor registered as `name` (bad input, exit 2, for an unknown name)."""
    factory = EXECUTORS.get(name)
    if factory is None:
        known = ", ".join(sorted(EXECUTORS))
        raise MedboardInputError(f"unknown executor {name!r} (known: {known})", source="--executor")
    return factory(**options)
