"""What one running service holds: its settings, the case engine, store and queue, the fetcher.

Routes reach it through the `service_state` dependency (``request.app.state.medboard``), so a test
builds as many independent apps as it likes. `start`/`stop` are synchronous on purpose: `medboard
serve` starts the engine (and opens the model, which may fail with exit 3) *before* uvicorn binds
its port, and the app's lifespan starts it when something else serves the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from medboard.service.cases import CaseQueue, CaseStore
from medboard.service.engine import CaseEngine
from medboard.service.records import Fetcher
from medboard.service.settings import ServiceSettings

if TYPE_CHECKING:
    from medboard.service.cds_hooks.client_jwt import ClientJwtVerifier


@dataclass
class ServiceState:
    settings: ServiceSettings
    engine: CaseEngine
    fetcher: Fetcher
    verifier: ClientJwtVerifier
    store: CaseStore = field(init=False)
    _queue: CaseQueue | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.store = CaseStore(self.settings.max_cases)

    @property
    def queue(self) -> CaseQueue:
        """Created on first use, inside the server's event loop (its semaphore belongs there)."""
        if self._queue is None:
            self._queue = CaseQueue(
                self.store,
                self.engine,
                concurrency=self.settings.concurrency,
                queue_size=self.settings.queue_size,
            )
        return self._queue

    def start(self) -> None:
        self.engine.start()

    async def stop(self) -> None:
        if self._queue is not None:
            with contextlib.suppress(Exception):
                await self._queue.stop()
        await asyncio.to_thread(self.engine.stop)


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.medboard
    return state
