"""The model layer: one OpenAI-compatible endpoint, called the same careful way by every agent.

Importing `medboard.llm` is light: the names below load their modules (and autogen/openai) on
first use, so `medboard --help` and the vocabulary never pay for them.

- `ModelEndpoint` (endpoint.py): URL, model name, key, timeouts, retries, concurrency, limits;
  `ModelEndpoint.from_sources` layers CLI > environment > config file > defaults (pydantic-settings,
  with the sources in settings.py).
- `make_chat_client` (client.py): autogen-ext `OpenAIChatCompletionClient` with the right model_info.
- `ModelCaller`, `CallResult`, `CallRecord` (calls.py, records.py): retries, structured output,
  repair, per-call records.
- `health_check` (health.py): a clear error before a run when the endpoint is unusable.
- `RecordingChatClient`, `ReplayChatClient` (cassette.py): record/replay of model traffic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ModelEndpoint": "medboard.llm.endpoint",
    "make_chat_client": "medboard.llm.client",
    "model_info_for": "medboard.llm.client",
    "ModelCaller": "medboard.llm.calls",
    "CallResult": "medboard.llm.calls",
    "CallRecord": "medboard.llm.records",
    "CallTotals": "medboard.llm.records",
    "ModelCallError": "medboard.llm.errors",
    "CassetteMissError": "medboard.llm.errors",
    "health_check": "medboard.llm.health",
    "strip_thinking": "medboard.llm.parsing",
    "bounded_schema": "medboard.llm.schema",
    "UnboundedSchemaError": "medboard.llm.schema",
    "RecordingChatClient": "medboard.llm.cassette",
    "ReplayChatClient": "medboard.llm.cassette",
    "open_cassette": "medboard.llm.cassette",
}

__all__ = [
    "CallRecord",
    "CallResult",
    "CallTotals",
    "CassetteMissError",
    "ModelCallError",
    "ModelCaller",
    "ModelEndpoint",
    "RecordingChatClient",
    "ReplayChatClient",
    "UnboundedSchemaError",
    "bounded_schema",
    "health_check",
    "make_chat_client",
    "model_info_for",
    "open_cassette",
    "strip_thinking",
]

if TYPE_CHECKING:
    from medboard.llm.calls import CallResult, ModelCaller
    from medboard.llm.cassette import RecordingChatClient, ReplayChatClient, open_cassette
    from medboard.llm.client import make_chat_client, model_info_for
    from medboard.llm.endpoint import ModelEndpoint
    from medboard.llm.errors import CassetteMissError, ModelCallError
    from medboard.llm.health import health_check
    from medboard.llm.parsing import strip_thinking
    from medboard.llm.records import CallRecord, CallTotals
    from medboard.llm.schema import UnboundedSchemaError, bounded_schema


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medboard.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
