"""Model-layer benchmarks. Prints figures; asserts nothing.

1. Per-call overhead of `ModelCaller.structured` (schema build, stripping, validation, records)
   over a bare `client.create` on the same zero-latency replay client, in the same process.
2. The same over a real local HTTP server (the openai/httpx stack included).
3. Concurrency: N calls with a fixed server latency through `max_concurrency` slots; wall time over
   the ideal ceil(N / slots) x latency (1.0 = perfect), with the sequential sum beside it.

    python benchmarks/bench_model_layer.py [--calls 200] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI server lives with the tests

from autogen_core.models import SystemMessage, UserMessage  # noqa: E402
from fake_openai import FakeOpenAIServer, chat_completion  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from medboard.llm import (  # noqa: E402
    ModelCaller,
    ModelEndpoint,
    RecordingChatClient,
    ReplayChatClient,
    make_chat_client,
)
from medboard.llm.schema import response_format_for  # noqa: E402


class Reading(BaseModel):
    text: str = Field(max_length=300)
    value: float = Field(ge=-1e6, le=1e6)
    flags: list[str] = Field(default_factory=list, max_length=5)


ANSWER = json.dumps({"text": "Hemoglobin is low.", "value": 9.1, "flags": ["low"]})
CONTEXT = "Patient context. " * 200  # a realistic shared prefix length (~3 kB)
MESSAGES = [SystemMessage(content="You read lab reports."), UserMessage(content=CONTEXT, source="user")]


def responder(latency: float):
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        return 200, chat_completion(f"<unused94>thought\nok<unused95>{ANSWER}"), latency

    return answer


async def per_call(calls: int, client: Any, endpoint: ModelEndpoint) -> tuple[float, float]:
    """Median seconds per call: bare client.create, then ModelCaller.structured."""
    caller = ModelCaller(client, endpoint)
    extra = {"response_format": response_format_for(Reading)}
    bare, wrapped = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        await client.create(MESSAGES, extra_create_args=extra)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await caller.structured(messages=MESSAGES, schema=Reading, agent="bench", purpose="labs")
        wrapped.append(time.perf_counter() - t0)
    return statistics.median(bare), statistics.median(wrapped)


def report(label: str, bare: float, wrapped: float) -> None:
    print(
        f"{label:21}: bare create {bare * 1e3:7.3f} ms/call, ModelCaller {wrapped * 1e3:7.3f} ms/call, "
        f"overhead {(wrapped - bare) * 1e3:7.3f} ms/call (ratio {wrapped / bare:.2f})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, default=12)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()

    with FakeOpenAIServer(responder(0.0)) as server, tempfile.TemporaryDirectory() as tmp:
        endpoint = ModelEndpoint(base_url=server.base_url, model="bench", timeout_s=10)
        cassette = Path(tmp) / "bench.jsonl"
        recorder = ModelCaller(RecordingChatClient(make_chat_client(endpoint), cassette), endpoint)
        await recorder.structured(messages=MESSAGES, schema=Reading, agent="bench", purpose="labs")

        bare, wrapped = await per_call(args.calls, ReplayChatClient(cassette), endpoint)
        report("replay, zero latency", bare, wrapped)
        http_client = make_chat_client(endpoint)
        bare, wrapped = await per_call(max(args.calls // 4, 10), http_client, endpoint)
        report("local HTTP, no delay", bare, wrapped)
        await http_client.close()

    with FakeOpenAIServer(responder(args.latency)) as server:
        endpoint = ModelEndpoint(
            base_url=server.base_url, model="bench", timeout_s=10, max_concurrency=args.slots
        )
        caller = ModelCaller.for_endpoint(endpoint)
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                caller.structured(messages=MESSAGES, schema=Reading, agent=f"a{i}", purpose="labs")
                for i in range(args.parallel)
            )
        )
        wall = time.perf_counter() - t0
        await caller.close()
    ideal = math.ceil(args.parallel / args.slots) * args.latency
    sequential = args.parallel * args.latency
    print(
        f"concurrency          : {args.parallel} calls x {args.latency:.2f} s through {args.slots} slots: "
        f"wall {wall:.2f} s, ideal {ideal:.2f} s (ratio {wall / ideal:.2f}), sequential {sequential:.2f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
