"""Where case flows run: an event loop of their own, in one background thread.

Why not the server's event loop: a case is not only waiting on the model. Loading a record,
reconciling it, synthesizing and verifying are seconds of CPU on a large record, and while a
coroutine computes, its loop answers nothing — no health check, no ``GET /cases/{id}``, and no
CDS card within its time budget. On a loop of its own the flow shares the CPU with the server
(the interpreter switches threads every few milliseconds), so the server stays responsive.

One loop, not one per case, because the model caller is opened once, in that loop, for the
service's life (`medboard.api.open_caller`: the health check runs once at start-up, `--model local`
starts its vLLM server once, the endpoint's concurrency limit spans every case) and an httpx
client belongs to the loop it was opened in. Each case still gets its own run budget
(`run_case_flow` sets it per case).

`CaseRunner` is the seam: by default `run_case_flow` with the shared caller; tests inject their
own (a slow one, one that counts how many run at once).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medboard.agents.case import CaseInput
    from medboard.models import CaseSummary

CaseRunner = Callable[["CaseInput"], Awaitable["CaseSummary"]]

#: Seconds `start` waits for the model caller to open (a `--model local` server takes ~40 s).
START_TIMEOUT_S = 600.0


class CaseEngine:
    """Runs case coroutines on a private event loop in a daemon thread."""

    def __init__(
        self,
        *,
        model: str | None = None,
        replay: Path | None = None,
        run_budget_s: float | None = None,
        runner: CaseRunner | None = None,
    ) -> None:
        self.model = model
        self.replay = replay
        self.run_budget_s = run_budget_s
        self._runner = runner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self.model_name: str | None = None

    @property
    def started(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Start the loop and open the model caller there; a model that is unusable raises here
        (`ModelEndpointError`, exit 3), before the server accepts anything."""
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="medboard-cases", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._open(), loop).result(timeout=START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    async def _open(self) -> None:
        if self._runner is not None:
            return
        from medboard.api import open_caller
        from medboard.orchestrator.flow import run_case_flow

        stack = contextlib.AsyncExitStack()
        caller = await stack.enter_async_context(open_caller(self.model, replay=self.replay))
        self._stack = stack
        self.model_name = getattr(getattr(caller, "endpoint", None), "model", None)
        budget = self.run_budget_s

        async def run_with_caller(case: CaseInput) -> CaseSummary:
            return await run_case_flow(case, caller=caller, run_budget_s=budget)

        self._runner = run_with_caller

    def run(self, case: CaseInput) -> concurrent.futures.Future[CaseSummary]:
        """Start `case` on the engine's loop; cancelling the returned future cancels the flow."""
        if self._loop is None or self._runner is None:
            raise RuntimeError("the case engine is not started")
        return asyncio.run_coroutine_threadsafe(self._run(case), self._loop)

    async def _run(self, case: CaseInput) -> CaseSummary:
        assert self._runner is not None
        return await self._runner(case)

    def stop(self) -> None:
        """Cancel what still runs, close the model caller, stop the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=30)
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=30)
        if not loop.is_running():
            loop.close()
        self._loop = self._thread = None

    async def _close(self) -> None:
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
