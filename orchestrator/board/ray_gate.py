"""One model endpoint's request cap, held across every Ray worker of a board.

A vLLM replica serves `max_concurrency` requests well (MEDBOARD_MODEL_CONCURRENCY); when a board's
cases run in several processes or machines, each process capping its own requests would multiply
the load by the number of workers. So the cap lives in one place: an `EndpointGate`, run as a Ray
async actor per endpoint (per vLLM replica: one base URL), named after a hash of that URL so every
worker — and every board on the same cluster — finds the same one (on an existing cluster the
actor is detached: boards that overlap share one cap per replica, the newest board's cap applies;
a private local Ray ends with its board). Workers take their slots
through `RayGate`, the `medboard.llm.gate.CallGate` that `ModelCaller` uses instead of its own
semaphore; a slot is held only while one HTTP request is in flight.

Slots are leases, so a worker that dies holding one does not take the slot with it forever:
- each grant carries a deadline (`lease_s`: longer than `ModelCaller`'s guard on one request,
  ``timeout_s * 1.25 + 0.25``); a lease not released by then is taken back;
- the executor hands back at once every lease of a worker Ray reports dead (`forfeit(owner)`);
- a caller cancelled while it waits withdraws its request (`release` before the grant), and a
  grant that lands after the withdrawal is dropped rather than held by nobody.

This module imports no Ray: the gate's bookkeeping is plain asyncio (tested without Ray), and
`RayGate` only calls `.remote()` on the actor handle it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

#: How long a withdrawn (cancelled) request is remembered, so a late grant for it is dropped.
WITHDRAWN_KEEP_S = 600.0
#: Added to the longest request a caller can make (its timeout guard) to get a lease's lifetime.
LEASE_MARGIN_S = 30.0


def gate_name(base_url: str) -> str:
    """The actor name for an endpoint: a hash of its URL (a URL can carry credentials)."""
    return "medboard-gate-" + hashlib.sha256(base_url.encode("utf-8")).hexdigest()[:16]


def lease_seconds(timeout_s: float) -> float:
    """A lease outlives the longest single request `ModelCaller` lets through (its guard)."""
    return timeout_s * 1.25 + 0.25 + LEASE_MARGIN_S


class GateStats(BaseModel):
    """What a gate has seen: for tests, benchmarks and the docs' claims."""

    label: str
    limit: int
    in_use: int
    peak: int
    granted: int
    expired: int
    forfeited: int
    withdrawn: int


class EndpointGate:
    """At most `limit` leases out at once, FIFO-ish; leases expire and can be forfeited by owner.

    Run as a Ray async actor (all methods on one event loop, so no locks beyond the condition).
    """

    def __init__(self, limit: int, label: str = "") -> None:
        if limit < 1:
            raise ValueError("a gate needs at least one slot")
        self.limit = limit
        self.label = label
        self._leases: dict[str, tuple[float, str]] = {}  # lease id -> (deadline, owner)
        self._withdrawn: dict[str, float] = {}  # lease id -> forget after (monotonic)
        self._changed: asyncio.Condition | None = None
        self._peak = self._granted = self._expired = self._forfeited = self._withdrawn_count = 0

    def _condition(self) -> asyncio.Condition:
        # Made on first use, inside the loop that runs the actor's methods.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def acquire(self, lease: str, lease_s: float, owner: str = "") -> bool:
        """Wait for a free slot and grant `lease` for `lease_s` seconds; False if it was withdrawn."""
        changed = self._condition()
        async with changed:
            while True:
                now = time.monotonic()
                self._expire(now)
                if self._withdrawn.pop(lease, None) is not None:
                    return False
                if len(self._leases) < self.limit:
                    self._leases[lease] = (now + lease_s, owner)
                    self._granted += 1
                    self._peak = max(self._peak, len(self._leases))
                    return True
                next_expiry = min(deadline for deadline, _ in self._leases.values()) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, next_expiry))

    async def release(self, lease: str) -> None:
        """Give `lease` back; for a lease not (or no longer) granted, withdraw the request."""
        changed = self._condition()
        async with changed:
            if self._leases.pop(lease, None) is None:
                self._withdrawn[lease] = time.monotonic() + WITHDRAWN_KEEP_S
                self._withdrawn_count += 1
            changed.notify_all()

    async def resize(self, limit: int) -> None:
        """A new cap (the operator changed MEDBOARD_MODEL_CONCURRENCY for this replica); leases out
        over a smaller cap are not revoked, new ones wait until the count is under it."""
        if limit < 1:
            raise ValueError("a gate needs at least one slot")
        changed = self._condition()
        async with changed:
            self.limit = limit
            changed.notify_all()

    async def forfeit(self, owner: str) -> int:
        """Take back every lease held by `owner` (a worker that died); returns how many."""
        changed = self._condition()
        async with changed:
            lost = [lease for lease, (_, holder) in self._leases.items() if holder == owner]
            for lease in lost:
                del self._leases[lease]
            self._forfeited += len(lost)
            changed.notify_all()
            return len(lost)

    async def stats(self) -> GateStats:
        self._expire(time.monotonic())
        return GateStats(
            label=self.label,
            limit=self.limit,
            in_use=len(self._leases),
            peak=self._peak,
            granted=self._granted,
            expired=self._expired,
            forfeited=self._forfeited,
            withdrawn=self._withdrawn_count,
        )

    def _expire(self, now: float) -> None:
        for lease, (deadline, _) in list(self._leases.items()):
            if deadline <= now:
                del self._leases[lease]
                self._expired += 1
        for lease, forget_after in list(self._withdrawn.items()):
            if forget_after <= now:
                del self._withdrawn[lease]


class RayGate:
    """`CallGate` over an `EndpointGate` actor: a slot is a lease acquired and released remotely.

    Picklable (an actor handle and two plain values), so it travels to the worker with its job.
    """

    def __init__(self, actor: Any, *, lease_s: float, owner: str = "") -> None:
        self.actor = actor
        self.lease_s = lease_s
        self.owner = owner

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        lease = uuid.uuid4().hex
        try:
            granted = await self.actor.acquire.remote(lease, self.lease_s, self.owner)
        except BaseException:
            # Cancelled (or the actor failed) while waiting: withdraw, so a late grant is dropped.
            self.actor.release.remote(lease)
            raise
        if not granted:  # withdrawn by a release that overtook us: cannot happen for our own lease
            raise RuntimeError("model-call gate refused a lease it was asked for")
        try:
            yield
        finally:
            # Fire and forget: the call is queued at once and needs no answer; awaiting it here
            # could be cancelled again and leak the slot until its lease ran out.
            self.actor.release.remote(lease)
