"""Who is calling the model right now.

`ChatCompletionClient.create` has no place for "which agent, what for"; `ModelCaller` sets this
context variable around each request so wrappers further down (the cassette recorder, the replay
client's miss report) can label traffic without changing autogen's protocol.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class CallContext:
    agent: str
    purpose: str
    schema_name: str | None = None


current_call: ContextVar[CallContext | None] = ContextVar("medboard_current_call", default=None)
