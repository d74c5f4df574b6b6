"""`CallGate`: who may send a request to a model endpoint now.

A vLLM replica serves a bounded number of requests well (`max_concurrency`,
MEDBOARD_MODEL_CONCURRENCY); past that, requests queue inside the server and time out. In one
process an `asyncio.Semaphore` is the whole answer (`LocalGate`, what `ModelCaller` uses by
default). When cases run in several processes or machines (a board on Ray) the cap must hold
across all of them, so the caller takes its slot from a gate that lives elsewhere (a Ray actor
per endpoint: `medboard.orchestrator.board.ray_executor`). `ModelCaller` only sees this protocol,
so the model layer never imports a distributed engine.

A slot is held only while one HTTP request is in flight (not during backoff or repair), exactly
where the semaphore was held before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable


@runtime_checkable
class CallGate(Protocol):
    """Hands out slots for requests to one model endpoint."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Held while one request is in flight; entering waits for a free slot."""
        ...


class LocalGate:
    """At most `limit` requests in flight within this process (one event loop)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a gate needs at least one slot")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._semaphore:
            yield
