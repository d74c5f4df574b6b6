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
from medboard.llm.gate import LocalGate
from medboard.orchestrator.board.jobs import CaseJob, CaseOutcome, run_job
from medboard.orchestrator.board.ray_executor import RayExecutor, endpoint_of

#: ``progress(case_id, stage)``: a case's stage as it runs ("queued", "loading", "agent: status",
#: "rendering", "done", "failed").
BoardProgress = Callable[[str, str], None]


class Executor(Protocol):
    async def run_all(
        self, jobs: list[CaseJob], *, concurrency: int, progress: BoardProgress
    ) -> list[CaseOutcome]: ...


class LocalExecutor:
    """Cases as asyncio tasks in this process, at most `concurrency` at a time.

    Model calls are capped per endpoint across all the board's cases, as the Ray executor's gate
    actor does across workers: one `LocalGate` of the endpoint's `max_concurrency`
    (MEDBOARD_MODEL_CONCURRENCY) per endpoint URL, shared by every case calling it. Each case's
    own caller caps only its own calls, so eight cases would otherwise put eight times the cap
    in flight at one replica. `gate` (a `medboard.llm.gate.CallGate`) overrides this when given.
    """

    def __init__(self, *, gate: Any | None = None, **_: Any) -> None:
        self.gate = gate

    async def run_all(
        self, jobs: list[CaseJob], *, concurrency: int, progress: BoardProgress
    ) -> list[CaseOutcome]:
        slots = asyncio.Semaphore(max(1, concurrency))
        gates: dict[str, LocalGate] = {}

        def gate_for(job: CaseJob) -> Any | None:
            if self.gate is not None:
                return self.gate
            endpoint = endpoint_of(job)
            if endpoint is None:
                return None  # no model, a replay, or 'local' (its own server per board)
            return gates.setdefault(endpoint.base_url, LocalGate(endpoint.max_concurrency))

        async def one(job: CaseJob) -> CaseOutcome:
            progress(job.id, "queued")
            async with slots:
                outcome = await run_job(
                    job, gate=gate_for(job), progress=lambda stage: progress(job.id, stage)
                )
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
