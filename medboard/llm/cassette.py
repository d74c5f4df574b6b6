"""Record and replay model traffic, so tests and scenarios run without a GPU.

A cassette is a JSONL file, one interaction per line, meant to be read and reviewed in a diff:

    {"fingerprint": "…", "agent": "ehr", "purpose": "labs",
     "request": {"messages": [{"role": "user", "content": [{"text": "…"}, {"image": {"sha256": "…",
                 "size": [896, 896]}}]}], "json_schema": "LabFinding", "model": "google/medgemma-1.5-4b-it"},
     "response": {"content": "{…}", "prompt_tokens": 412, "completion_tokens": 57, "finish_reason": "stop"}}

The fingerprint is the sha256 of the canonical JSON of the request without the model name (a
cassette recorded on one endpoint replays against any other) and with images replaced by the
sha256 of their pixels. `RecordingChatClient` wraps a live client and appends one line per answer;
`ReplayChatClient` answers from the cassette and, in strict mode, refuses any request it has not
seen with a `CassetteMissError` showing how the prompt changed against the closest recording.
Agent and purpose come from `medboard.llm.context.current_call`, set by `ModelCaller`.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import warnings
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

from autogen_core import CancellationToken, Image
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,  # type: ignore[attr-defined]
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ConfigDict, ValidationError

from medboard.errors import MedboardInputError, first_problem
from medboard.llm.context import current_call
from medboard.llm.endpoint import ModelEndpoint
from medboard.llm.errors import CassetteMissError
from medboard.safeio import read_text_bounded

#: Tokens MedGemma spends per image (896x896 -> 256 soft tokens); used by the replay estimate.
IMAGE_TOKENS = 256
_DIFF_LINES = 60


class CassetteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[dict[str, Any]]
    json_schema: str | None = None
    model: str | None = None


class CassetteResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


class CassetteEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    agent: str = ""
    purpose: str = ""
    request: CassetteRequest
    response: CassetteResponse


# --------------------------------------------------------------------------- request canonical form


def image_digest(image: Image) -> str:
    """sha256 of the decoded pixels (mode, size, bytes): stable across PNG/JPEG re-encoding."""
    pil = image.image
    header = f"{pil.mode}:{pil.width}x{pil.height}:".encode()
    return hashlib.sha256(header + pil.tobytes()).hexdigest()


def _part(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"text": item}
    if isinstance(item, Image):
        return {"image": {"sha256": image_digest(item), "size": [item.image.width, item.image.height]}}
    if isinstance(item, BaseModel):
        return {"data": item.model_dump(mode="json")}
    return {"data": str(item)}


def message_json(message: LLMMessage) -> dict[str, Any]:
    """A message as plain JSON: role and content, images hashed; `source` is left out (not sent as text)."""
    role = {"SystemMessage": "system", "UserMessage": "user", "AssistantMessage": "assistant"}.get(
        type(message).__name__, "tool"
    )
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return {"role": role, "content": content}
    if isinstance(content, list):
        return {"role": role, "content": [_part(item) for item in content]}
    return {"role": role, "content": _part(content)}


def schema_name(json_output: Any, extra_create_args: Mapping[str, Any]) -> str | None:
    """The structured-output schema name of a request: response_format json_schema or json_output."""
    if isinstance(json_output, type) and issubclass(json_output, BaseModel):
        return json_output.__name__
    fmt = extra_create_args.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            return str((fmt.get("json_schema") or {}).get("name", "json_schema"))
        if fmt.get("type") == "json_object":
            return "json_object"
    if isinstance(fmt, type) and issubclass(fmt, BaseModel):
        return fmt.__name__
    return "json_object" if json_output is True else None


def build_request(
    messages: Sequence[LLMMessage],
    json_output: Any = None,
    extra_create_args: Mapping[str, Any] | None = None,
    model: str | None = None,
) -> CassetteRequest:
    extra = extra_create_args or {}
    return CassetteRequest(
        messages=[message_json(m) for m in messages],
        json_schema=schema_name(json_output, extra),
        model=model,
    )


def fingerprint(request: CassetteRequest) -> str:
    """sha256 of the canonical request JSON, model name excluded."""
    canonical = json.dumps(
        request.model_dump(exclude={"model"}), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def prompt_text(request: CassetteRequest) -> str:
    """The request as readable text (one block per message, images as their hash) for diffs."""
    lines = [f"[schema: {request.json_schema}]"] if request.json_schema else []
    for message in request.messages:
        lines.append(f"[{message['role']}]")
        content = message["content"]
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            if isinstance(part, str):
                lines.append(part)
            elif "text" in part:
                lines.append(part["text"])
            elif "image" in part:
                img = part["image"]
                lines.append(f"<image sha256={img['sha256'][:16]} size={img['size'][0]}x{img['size'][1]}>")
            else:
                lines.append(json.dumps(part, sort_keys=True))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ file access


def load_cassette(path: Path) -> list[CassetteEntry]:
    """All entries of a cassette; a malformed line is a `MedboardInputError` naming the line."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise MedboardInputError("cassette not found (record it first)", source=str(path))
    # Bounded, regular files only: a folder, /dev/zero or a FIFO is one clean error, not a hang.
    text = read_text_bounded(path, cap="max_file_bytes", error=MedboardInputError)
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(CassetteEntry.model_validate_json(line))
        except RecursionError:
            raise MedboardInputError(
                "not a cassette entry: JSON nested too deep", source=str(path), location=f"line {number}"
            ) from None
        except ValidationError as err:
            problem = first_problem(err)
            where = ".".join(str(p) for p in problem.loc)
            raise MedboardInputError(
                f"not a cassette entry: {where}: {problem.message}",
                source=str(path),
                location=f"line {number}",
            ) from None
    return entries


def append_entry(path: Path, entry: CassetteEntry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(entry.model_dump_json() + "\n")


def _default_model_info() -> ModelInfo:
    return ModelInfo(
        vision=True,
        function_calling=False,
        json_output=True,
        structured_output=True,
        family=ModelFamily.UNKNOWN,
        multiple_system_messages=False,
    )


def _finish_reason(value: str) -> Literal["stop", "length", "function_calls", "content_filter", "unknown"]:
    known = ("stop", "length", "function_calls", "content_filter", "unknown")
    return cast(Any, value) if value in known else "unknown"


async def _single_chunk_stream(result: CreateResult) -> AsyncGenerator[str | CreateResult, None]:
    if isinstance(result.content, str) and result.content:
        yield result.content
    yield result


# ---------------------------------------------------------------------------------------- clients


class RecordingChatClient(ChatCompletionClient):
    """Passes every request to `inner` and appends the exchange to the cassette (JSONL, append mode)."""

    def __init__(self, inner: ChatCompletionClient, cassette_path: Path | str) -> None:
        self.inner = inner
        self.cassette_path = Path(cassette_path)
        self.recorded = 0

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        result = await self.inner.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
        if isinstance(result.content, str):
            ctx = current_call.get()
            request = build_request(messages, json_output, extra_create_args, model=_model_name(self.inner))
            append_entry(
                self.cassette_path,
                CassetteEntry(
                    fingerprint=fingerprint(request),
                    agent=ctx.agent if ctx else "",
                    purpose=ctx.purpose if ctx else "",
                    request=request,
                    response=CassetteResponse(
                        content=result.content,
                        prompt_tokens=result.usage.prompt_tokens,
                        completion_tokens=result.usage.completion_tokens,
                        finish_reason=result.finish_reason,
                    ),
                ),
            )
            self.recorded += 1
        return result

    def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        """Not streamed: the whole answer is fetched (and recorded), then yielded as one chunk."""

        async def stream() -> AsyncGenerator[str | CreateResult, None]:
            result = await self.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
            async for item in _single_chunk_stream(result):
                yield item

        return stream()

    async def close(self) -> None:
        await self.inner.close()

    def actual_usage(self) -> RequestUsage:
        return self.inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self.inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self.inner.count_tokens(messages, tools=tools)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self.inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        return cast(ModelCapabilities, self.inner.model_info)

    @property
    def model_info(self) -> ModelInfo:
        return self.inner.model_info


class ReplayChatClient(ChatCompletionClient):
    """Answers from a cassette. Strict (default): an unmatched request raises `CassetteMissError`.

    Non-strict: an unmatched request gets the closest recording's answer, with a warning — for
    iterating on prompts, never for CI. Identical requests recorded several times replay in order,
    then repeat the last. `latency_s` adds a fixed delay per call (benchmarks of concurrency).
    """

    def __init__(
        self,
        cassette_path: Path | str,
        *,
        strict: bool = True,
        latency_s: float = 0.0,
        model_info: ModelInfo | None = None,
        context_length: int = 8192,
    ) -> None:
        self.cassette_path = Path(cassette_path)
        self.strict = strict
        self.latency_s = latency_s
        self.context_length = context_length
        self._model_info = model_info if model_info is not None else _default_model_info()
        self.entries = load_cassette(self.cassette_path)
        self._by_fingerprint: dict[str, list[CassetteEntry]] = {}
        for entry in self.entries:
            self._by_fingerprint.setdefault(entry.fingerprint, []).append(entry)
        self._served: dict[str, int] = {}
        self._usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self.calls = 0

    def unused(self) -> list[CassetteEntry]:
        """Recordings never asked for: a scenario whose prompts changed leaves these behind."""
        return [e for e in self.entries if e.fingerprint not in self._served]

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        request = build_request(messages, json_output, extra_create_args)
        key = fingerprint(request)
        entry = self._take(key)
        if entry is None:
            closest, ratio = self._closest(request)
            if self.strict or closest is None:
                raise CassetteMissError(self._miss_message(request, closest, ratio))
            warnings.warn(
                f"cassette miss in {self.cassette_path}: replaying the closest recording "
                f"(agent={closest.agent}, purpose={closest.purpose}, similarity {ratio:.2f})",
                stacklevel=2,
            )
            entry = closest
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        self.calls += 1
        usage = RequestUsage(
            prompt_tokens=entry.response.prompt_tokens, completion_tokens=entry.response.completion_tokens
        )
        self._usage = RequestUsage(
            prompt_tokens=self._usage.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._usage.completion_tokens + usage.completion_tokens,
        )
        return CreateResult(
            finish_reason=_finish_reason(entry.response.finish_reason),
            content=entry.response.content,
            usage=usage,
            cached=True,
        )

    def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        """The recorded answer as one chunk, then the `CreateResult`."""

        async def stream() -> AsyncGenerator[str | CreateResult, None]:
            result = await self.create(messages, json_output=json_output, extra_create_args=extra_create_args)
            async for item in _single_chunk_stream(result):
                yield item

        return stream()

    def _take(self, key: str) -> CassetteEntry | None:
        recorded = self._by_fingerprint.get(key)
        if not recorded:
            return None
        index = self._served.get(key, 0)
        self._served[key] = index + 1
        return recorded[min(index, len(recorded) - 1)]

    def _closest(self, request: CassetteRequest) -> tuple[CassetteEntry | None, float]:
        """The most similar recording, preferring the same agent and purpose when known."""
        if not self.entries:
            return None, 0.0
        ctx = current_call.get()
        pool = self.entries
        if ctx is not None:
            same = [e for e in self.entries if (e.agent, e.purpose) == (ctx.agent, ctx.purpose)]
            pool = same or [e for e in self.entries if e.agent == ctx.agent] or self.entries
        wanted = prompt_text(request).splitlines()
        best, best_ratio = None, -1.0
        for entry in pool:
            matcher = difflib.SequenceMatcher(None, prompt_text(entry.request).splitlines(), wanted)
            if matcher.quick_ratio() <= best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio = entry, ratio
        return best, best_ratio

    def _miss_message(self, request: CassetteRequest, closest: CassetteEntry | None, ratio: float) -> str:
        ctx = current_call.get()
        who = f" (agent={ctx.agent}, purpose={ctx.purpose})" if ctx else ""
        head = f"no recording in {self.cassette_path} matches this model request{who}"
        if closest is None:
            return f"{head}; the cassette is empty. Re-record it against a live endpoint."
        recorded = prompt_text(closest.request)
        wanted = prompt_text(request)
        diff = list(
            difflib.unified_diff(
                recorded.splitlines(), wanted.splitlines(), "recorded", "requested", n=2, lineterm=""
            )
        )
        if len(diff) > _DIFF_LINES:
            diff = [*diff[:_DIFF_LINES], f"... ({len(diff) - _DIFF_LINES} more diff lines)"]
        where = _first_difference(recorded, wanted)
        return "\n".join(
            [
                f"{head}.",
                f"Closest recording: agent={closest.agent}, purpose={closest.purpose}, "
                f"similarity {ratio:.2f}. {where}",
                "Prompt diff (recorded -> requested):",
                *diff,
                "Re-record the cassette if the change is intended.",
            ]
        )

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._usage

    def total_usage(self) -> RequestUsage:
        return self._usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        """Rough estimate (4 characters a token, 256 per image): replay has no tokenizer."""
        request = build_request(messages)
        images = sum(
            1
            for m in request.messages
            if isinstance(m["content"], list)
            for p in m["content"]
            if isinstance(p, dict) and "image" in p
        )
        return len(prompt_text(request)) // 4 + IMAGE_TOKENS * images

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self.context_length - self.count_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        return cast(ModelCapabilities, self._model_info)

    @property
    def model_info(self) -> ModelInfo:
        return self._model_info


CassetteMode = Literal["replay", "record", "once"]


def open_cassette(
    path: Path | str,
    mode: CassetteMode = "replay",
    *,
    endpoint: ModelEndpoint | None = None,
    latency_s: float = 0.0,
) -> ChatCompletionClient:
    """A client for scenario-style runs.

    - "replay": strict replay of an existing cassette (CI).
    - "record": a fresh recording against `endpoint` (the old file is replaced).
    - "once": replay if the cassette exists, otherwise record it.
    """
    path = Path(path)
    if mode == "once":
        mode = "replay" if path.is_file() else "record"
    if mode == "replay":
        return ReplayChatClient(path, latency_s=latency_s)
    if endpoint is None:
        raise ValueError("recording a cassette needs a live endpoint")
    from medboard.llm.client import make_chat_client

    path.unlink(missing_ok=True)
    return RecordingChatClient(make_chat_client(endpoint), path)


def _first_difference(recorded: str, wanted: str, context: int = 40) -> str:
    """Where the two prompts first differ, with a little context: long one-line prompts need it."""
    limit = min(len(recorded), len(wanted))
    index = next((i for i in range(limit) if recorded[i] != wanted[i]), limit)
    if index == len(recorded) == len(wanted):
        return "The prompt texts are identical; the difference lies outside them."
    lo = max(0, index - context)
    return (
        f"First difference at character {index}: recorded {recorded[lo : index + context]!r} "
        f"vs requested {wanted[lo : index + context]!r}."
    )


def _model_name(client: ChatCompletionClient) -> str | None:
    create_args = getattr(client, "_create_args", None)
    if isinstance(create_args, dict) and isinstance(create_args.get("model"), str):
        return create_args["model"]
    return None


__all__ = [
    "CassetteEntry",
    "CassetteRequest",
    "CassetteResponse",
    "RecordingChatClient",
    "ReplayChatClient",
    "build_request",
    "fingerprint",
    "image_digest",
    "load_cassette",
    "open_cassette",
    "prompt_text",
]
