"""The model-call gate: `ModelCaller` takes its request slots from the gate it is given.

A board whose workers share one endpoint hands every worker's caller one gate; these tests pin
the seam with in-process gates against a real local HTTP server (the Ray gate is tested in
tests/test_ray_executor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from autogen_core.models import UserMessage
from fake_openai import FakeOpenAIServer, chat_completion
from pydantic import BaseModel

from medboard.llm import ModelCaller, ModelEndpoint, make_chat_client
from medboard.llm.gate import CallGate, LocalGate


class Answer(BaseModel):
    ok: bool


MESSAGES = [UserMessage(content="Answer as JSON.", source="user")]


class CountingGate:
    """A gate that admits `limit` at once and counts the slots it handed out."""

    def __init__(self, limit: int) -> None:
        self.inner = LocalGate(limit)
        self.entered = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.inner.slot():
            self.entered += 1
            yield


def _peak_server() -> tuple[FakeOpenAIServer, dict[str, int]]:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return 200, chat_completion(json.dumps({"ok": True})), 0.0

    return FakeOpenAIServer(responder), state


def _caller(base_url: str, gate: CallGate | None, concurrency: int = 8) -> ModelCaller:
    endpoint = ModelEndpoint(base_url=base_url, model="fake-model", timeout_s=5, max_concurrency=concurrency)
    return ModelCaller(make_chat_client(endpoint), endpoint, gate=gate)


def test_local_gate_is_a_call_gate_and_needs_a_slot() -> None:
    assert isinstance(LocalGate(2), CallGate)
    with pytest.raises(ValueError, match="at least one slot"):
        LocalGate(0)


async def test_default_gate_caps_at_the_endpoint_concurrency() -> None:
    server, state = _peak_server()
    with server:
        caller = _caller(server.base_url, gate=None, concurrency=3)
        assert isinstance(caller.gate, LocalGate) and caller.gate.limit == 3
        await asyncio.gather(
            *(caller.structured(messages=MESSAGES, schema=Answer, agent="a", purpose="p") for _ in range(7))
        )
        await caller.close()
    assert state["peak"] == 3


async def test_callers_sharing_a_gate_share_its_cap() -> None:
    """Two callers (two cases) each allowed 8 by their endpoint, but one shared gate of 2: at most 2."""
    gate = CountingGate(2)
    server, state = _peak_server()
    with server:
        callers = [_caller(server.base_url, gate=gate) for _ in range(2)]
        await asyncio.gather(
            *(
                caller.structured(messages=MESSAGES, schema=Answer, agent="a", purpose="p")
                for caller in callers
                for _ in range(4)
            )
        )
        for caller in callers:
            await caller.close()
    assert state["peak"] == 2
    assert gate.entered == 8 == len(server.requests)
