"""Cases in memory and the queue in front of the engine: bounded, both.

`CaseStore` keeps at most `max_cases` cases; a new case pushes out the oldest *finished* one
(a case still queued or running is never dropped: the queue bound keeps them fewer than the cap).
`CaseQueue` admits at most `queue_size` cases that are queued or running — one more is refused
(`ServiceBusy`, a 503 with Retry-After) instead of piling up memory and latency — and lets
`concurrency` of them run their flow at once (an `asyncio.Semaphore`). Preparing a case (pulling
the record from a FHIR server, loading it, reconciling it) happens before a slot is taken: it is
mostly waiting on the network, and the CDS fast path needs the record even while every slot is busy.

Everything here lives on the server's event loop, so no locks; the flow itself runs on the
`CaseEngine`'s loop and is awaited through a wrapped future.

Logs name the case by its own id and its state only, never the patient or the error's text.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medboard.errors import MedboardError
from medboard.service.models import CaseState, CaseStatus

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models import CaseSummary
    from medboard.service.engine import CaseEngine

log = logging.getLogger(__name__)

Prepare = Callable[[], Awaitable["CaseInput"]]


class ServiceBusy(Exception):
    """The queue is full: the caller should come back later."""


@dataclass
class Case:
    id: str
    kind: str
    status: CaseStatus = "queued"
    error: str | None = None
    summary: CaseSummary | None = None
    created: float = field(default_factory=time.monotonic)
    #: Resolved with the loaded case (record reconciled) once prepared.
    prepared: asyncio.Future[CaseInput] = field(default_factory=lambda: _quiet_future())
    #: Resolved with the verified summary (or the failure).
    finished: asyncio.Future[CaseSummary] = field(default_factory=lambda: _quiet_future())

    def state(self) -> CaseState:
        return CaseState(id=self.id, status=self.status, error=self.error, summary=self.summary)


def _quiet_future() -> asyncio.Future:  # type: ignore[type-arg]
    """A future whose exception counts as retrieved: nobody may be waiting for it."""
    future: asyncio.Future = asyncio.get_running_loop().create_future()  # type: ignore[type-arg]
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


class CaseStore:
    def __init__(self, max_cases: int) -> None:
        self.max_cases = max_cases
        self._cases: OrderedDict[str, Case] = OrderedDict()

    def new(self, kind: str) -> Case:
        if len(self._cases) >= self.max_cases:
            finished = next((k for k, c in self._cases.items() if c.status in ("done", "failed")), None)
            if finished is None:
                raise ServiceBusy
            del self._cases[finished]
        case = Case(id=uuid.uuid4().hex, kind=kind)
        self._cases[case.id] = case
        return case

    def get(self, case_id: str) -> Case | None:
        return self._cases.get(case_id)

    def __len__(self) -> int:
        return len(self._cases)


class CaseQueue:
    def __init__(self, store: CaseStore, engine: CaseEngine, *, concurrency: int, queue_size: int) -> None:
        self.store = store
        self.engine = engine
        self.queue_size = queue_size
        self._slots = asyncio.Semaphore(concurrency)
        self._pending = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Cases queued or running."""
        return self._pending

    def submit(self, kind: str, prepare: Prepare) -> Case:
        """Register a case and run it in the background; `ServiceBusy` when the queue is full."""
        if self._pending >= self.queue_size:
            raise ServiceBusy
        case = self.store.new(kind)
        self._pending += 1
        task = asyncio.create_task(self._run(case, prepare), name=f"case-{case.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("case %s (%s) queued; %d pending", case.id, kind, self._pending)
        return case

    async def _run(self, case: Case, prepare: Prepare) -> None:
        started = time.monotonic()
        try:
            case_input = await prepare()
            case.prepared.set_result(case_input)
            async with self._slots:
                case.status = "running"
                log.info("case %s running", case.id)
                summary = await asyncio.wrap_future(self.engine.run(case_input))
            case.status, case.summary = "done", summary
            case.finished.set_result(summary)
            log.info("case %s done in %.2f s", case.id, time.monotonic() - started)
        except asyncio.CancelledError:
            self._fail(case, "the service stopped before the case finished", None)
            raise
        except MedboardError as error:
            self._fail(case, _one_line(error), error)
            log.info("case %s failed (%s)", case.id, type(error).__name__)
        except Exception as error:  # a bug: the client gets a line, the log the type (no message: data)
            self._fail(case, f"internal error ({type(error).__name__})", error)
            log.error("case %s failed with an internal error (%s)", case.id, type(error).__name__)
            log.debug("case %s internal error", case.id, exc_info=True)
        finally:
            self._pending -= 1

    @staticmethod
    def _fail(case: Case, message: str, error: BaseException | None) -> None:
        case.status, case.error = "failed", message
        for future in (case.prepared, case.finished):
            if future.done():
                continue
            if error is None:
                future.cancel()
            else:
                future.set_exception(error)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _one_line(error: MedboardError) -> str:
    describe = getattr(error, "describe", None)
    text = describe() if callable(describe) else str(error)
    return " ".join(str(text).split())[:500]
