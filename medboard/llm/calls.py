"""`ModelCaller`: the one way agents call a model.

Every agent request goes through here so that every request gets the same treatment:
- a concurrency limit (`endpoint.max_concurrency`, held only while a request is in flight);
- bounded retries with exponential backoff on timeouts, 5xx/429, refused or dropped connections;
  4xx answers (prompt too long, bad request) are not retried — they would fail the same way;
- structured output: the pydantic schema goes out as `response_format` json_schema (bounded, see
  `medboard.llm.schema`), the answer has thinking spans and code fences stripped, is parsed and
  validated; invalid, truncated or schema-violating JSON gets one single-turn repair request,
  then a `ModelCallError` with a short reason;
- a `CallRecord` per call (tokens, latency, attempts, ok/error), kept in `ModelCaller.records`.

The wrapped client only needs autogen's `ChatCompletionClient` protocol, so a cassette replay
client stands in for a live endpoint in tests and scenarios.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx
import openai
from autogen_core import Image
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, UserMessage
from pydantic import BaseModel, ValidationError

from medboard.llm.context import CallContext, current_call
from medboard.llm.endpoint import ModelEndpoint
from medboard.llm.errors import CassetteMissError, FailureKind, ModelCallError
from medboard.llm.parsing import clean_answer, load_json, strip_thinking
from medboard.llm.records import CallRecord, CallTotals, totals_by_agent
from medboard.llm.schema import response_format_for, schema_text

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_BACKOFF_S = 30.0
#: How much of a broken answer the repair request quotes back.
REPAIR_QUOTE_CHARS = 8000


@dataclass(frozen=True)
class CallResult(Generic[T]):
    """A successful call: the validated value, the cleaned answer text, the raw text and the record."""

    value: T
    content: str
    raw: str
    record: CallRecord


@dataclass
class _Tally:
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repaired: bool = False
    finish_reason: str | None = None


@dataclass(frozen=True)
class _Transient:
    kind: FailureKind
    label: str
    retry: bool


class _BadAnswer(Exception):
    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason


class ModelCaller:
    """Calls one model endpoint on behalf of agents; see the module docstring for the policy."""

    def __init__(
        self,
        client: ChatCompletionClient,
        endpoint: ModelEndpoint | None = None,
        *,
        repair: bool = True,
    ) -> None:
        self.client = client
        self.endpoint = endpoint if endpoint is not None else ModelEndpoint()
        self.repair = repair
        self.records: list[CallRecord] = []
        self._semaphore = asyncio.Semaphore(self.endpoint.max_concurrency)

    @classmethod
    def for_endpoint(cls, endpoint: ModelEndpoint, **kwargs: Any) -> ModelCaller:
        """A caller over a live `OpenAIChatCompletionClient` for `endpoint`."""
        from medboard.llm.client import make_chat_client

        return cls(make_chat_client(endpoint), endpoint, **kwargs)

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> ModelCaller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------------------------- public

    async def structured(
        self,
        *,
        messages: Sequence[LLMMessage],
        schema: type[M],
        agent: str,
        purpose: str,
        max_tokens: int | None = None,
    ) -> CallResult[M]:
        """One single-turn request whose answer must validate as `schema`.

        Raises `ModelCallError` when the endpoint keeps failing or the answer stays invalid after
        one repair request. `CassetteMissError` (strict replay) propagates untouched.
        """
        response_format = response_format_for(schema)
        ctx = CallContext(agent=agent, purpose=purpose, schema_name=schema.__name__)

        async def attempt(tally: _Tally) -> tuple[M, str, str]:
            result = await self._request(messages, ctx, tally, response_format, max_tokens)
            raw = _content_text(result)
            try:
                value, content = _validate(raw, schema, result.finish_reason, result.usage.completion_tokens)
                return value, content, raw
            except _BadAnswer as first:
                if not self.repair:
                    raise ModelCallError(
                        first.reason, kind=first.kind, agent=agent, purpose=purpose
                    ) from None
                failure = first
            # One single-turn repair request: the broken answer and what is wrong with it.
            tally.repaired = True
            repair_ctx = CallContext(agent=agent, purpose=f"{purpose} (repair)", schema_name=schema.__name__)
            prompt = _repair_prompt(raw, failure.reason, schema)
            repair_messages = [UserMessage(content=prompt, source="user")]
            result = await self._request(repair_messages, repair_ctx, tally, response_format, max_tokens)
            raw = _content_text(result)
            try:
                value, content = _validate(raw, schema, result.finish_reason, result.usage.completion_tokens)
                return value, content, raw
            except _BadAnswer as second:
                reason = failure.reason
                if second.reason != failure.reason:
                    reason = f"{failure.reason}; repair: {second.reason}"
                raise ModelCallError(
                    f"{reason} (after 1 repair attempt)", kind=failure.kind, agent=agent, purpose=purpose
                ) from None

        return await self._run(ctx, messages, attempt)

    async def text(
        self,
        *,
        messages: Sequence[LLMMessage],
        agent: str,
        purpose: str,
        max_tokens: int | None = None,
    ) -> CallResult[str]:
        """One single-turn free-text request; the answer comes back with thinking spans stripped."""
        ctx = CallContext(agent=agent, purpose=purpose)

        async def attempt(tally: _Tally) -> tuple[str, str, str]:
            result = await self._request(messages, ctx, tally, None, max_tokens)
            raw = _content_text(result)
            content = strip_thinking(raw)
            if not content:
                raise ModelCallError("empty answer", kind="empty", agent=agent, purpose=purpose)
            return content, content, raw

        return await self._run(ctx, messages, attempt)

    async def _run(
        self,
        ctx: CallContext,
        messages: Sequence[LLMMessage],
        attempt: Callable[[_Tally], Awaitable[tuple[T, str, str]]],
    ) -> CallResult[T]:
        """Pre-flight checks, timing and the call record around one logical call (success or not)."""
        tally = _Tally()
        started_at, t0 = datetime.now(UTC), time.perf_counter()
        try:
            self._preflight(messages, ctx)
            value, content, raw = await attempt(tally)
        except ModelCallError as err:
            err.record = self._record(ctx, tally, started_at, t0, err.reason, err.kind)
            logger.warning("model call failed: agent=%s purpose=%s: %s", ctx.agent, ctx.purpose, err.reason)
            raise
        except asyncio.CancelledError:
            # The orchestrator's time guard cancelled us: the tokens already spent still count.
            self._record(ctx, tally, started_at, t0, "cancelled", "cancelled")
            raise
        record = self._record(ctx, tally, started_at, t0)
        return CallResult(value=value, content=content, raw=raw, record=record)

    def _preflight(self, messages: Sequence[LLMMessage], ctx: CallContext) -> None:
        """Refuse, before sending, what the server would reject: too many images, images to a text model."""
        images = sum(
            1
            for m in messages
            if isinstance(m, UserMessage) and isinstance(m.content, list)
            for part in m.content
            if isinstance(part, Image)
        )
        if images and not self.endpoint.vision:
            raise ModelCallError(
                f"request has {images} image(s) but the endpoint is configured without vision",
                kind="client_error",
                agent=ctx.agent,
                purpose=ctx.purpose,
            )
        if images > self.endpoint.images_per_prompt:
            raise ModelCallError(
                f"request has {images} images; the endpoint accepts {self.endpoint.images_per_prompt} "
                "per prompt (MEDBOARD_IMAGES_PER_PROMPT, vLLM --limit-mm-per-prompt)",
                kind="client_error",
                agent=ctx.agent,
                purpose=ctx.purpose,
            )

    def totals(self) -> dict[str, CallTotals]:
        """Per-agent sums over `records` (calls, failed, attempts, tokens, latency)."""
        return totals_by_agent(self.records)

    # ---------------------------------------------------------------------------------- internals

    async def _request(
        self,
        messages: Sequence[LLMMessage],
        ctx: CallContext,
        tally: _Tally,
        response_format: dict[str, Any] | None,
        max_tokens: int | None,
    ) -> CreateResult:
        """One logical request with transport retries. Counts attempts and tokens into `tally`."""
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        if max_tokens is not None:
            extra["max_tokens"] = max_tokens
        endpoint = self.endpoint
        attempts_allowed = endpoint.max_retries + 1
        # The HTTP client enforces endpoint.timeout_s itself; this guard also bounds clients that do
        # not (replay, custom) so that nothing ever hangs.
        guard_s = endpoint.timeout_s * 1.25 + 0.25
        token = current_call.set(ctx)
        try:
            for attempt in range(1, attempts_allowed + 1):
                tally.attempts += 1
                try:
                    async with self._semaphore:
                        result = await asyncio.wait_for(
                            self.client.create(list(messages), extra_create_args=extra), timeout=guard_s
                        )
                except CassetteMissError:
                    raise
                except Exception as exc:
                    failure = _classify(exc)
                    if failure is None:
                        raise
                    if not failure.retry or attempt == attempts_allowed:
                        n = f"{attempt} attempt" + ("s" if attempt > 1 else "")
                        reason = f"{failure.label} after {n}" if failure.retry else failure.label
                        raise ModelCallError(
                            reason, kind=failure.kind, agent=ctx.agent, purpose=ctx.purpose
                        ) from exc
                    delay = min(endpoint.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
                    logger.info(
                        "model request failed (%s), retry %d/%d in %.2fs: agent=%s purpose=%s",
                        failure.label,
                        attempt,
                        attempts_allowed - 1,
                        delay,
                        ctx.agent,
                        ctx.purpose,
                    )
                    await asyncio.sleep(delay)
                    continue
                tally.prompt_tokens += result.usage.prompt_tokens
                tally.completion_tokens += result.usage.completion_tokens
                tally.finish_reason = result.finish_reason
                return result
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            current_call.reset(token)

    def _record(
        self,
        ctx: CallContext,
        tally: _Tally,
        started_at: datetime,
        t0: float,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> CallRecord:
        record = CallRecord(
            agent=ctx.agent,
            purpose=ctx.purpose,
            schema_name=ctx.schema_name,
            started_at=started_at,
            latency_s=time.perf_counter() - t0,
            attempts=tally.attempts,
            repaired=tally.repaired,
            prompt_tokens=tally.prompt_tokens,
            completion_tokens=tally.completion_tokens,
            finish_reason=tally.finish_reason,
            ok=error is None,
            error=error,
            error_kind=error_kind,
        )
        self.records.append(record)
        return record


def _content_text(result: CreateResult) -> str:
    if isinstance(result.content, str):
        return result.content
    return ""  # a tool call: this layer never offers tools, so it is an empty answer


def _validate(raw: str, schema: type[M], finish_reason: str, completion_tokens: int) -> tuple[M, str]:
    content = clean_answer(raw)
    truncated = finish_reason == "length"
    if not content:
        raise _BadAnswer("truncated" if truncated else "invalid_json", "invalid JSON: empty answer")
    try:
        data = load_json(content)
    except json.JSONDecodeError as err:
        if truncated:
            raise _BadAnswer(
                "truncated", f"truncated JSON (finish_reason=length after {completion_tokens} tokens)"
            ) from None
        raise _BadAnswer("invalid_json", f"invalid JSON: {err}") from None
    try:
        return schema.model_validate(data), content
    except ValidationError as err:
        raise _BadAnswer("schema_violation", f"schema violation: {_short_errors(err)}") from None


def _short_errors(err: ValidationError, limit: int = 4) -> str:
    """Locations and messages only: input values may quote patient data."""
    parts = []
    for item in err.errors(include_input=False, include_url=False)[:limit]:
        loc = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{loc}: {item['msg']}")
    more = err.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _repair_prompt(raw: str, reason: str, schema: type[BaseModel]) -> str:
    quoted = raw if len(raw) <= REPAIR_QUOTE_CHARS else raw[:REPAIR_QUOTE_CHARS] + "…"
    return (
        f"The answer below was meant to be one JSON object matching the JSON Schema `{schema.__name__}`, "
        f"but it is not usable: {reason}.\n\n"
        f"JSON Schema:\n{schema_text(schema)}\n\n"
        f"Answer to correct (between the markers):\n<<<\n{quoted}\n>>>\n\n"
        "Reply with the corrected JSON object only: no explanation, no code fences. "
        "Keep the content of the answer; fix only what breaks the schema or the JSON syntax."
    )


def _classify(exc: BaseException) -> _Transient | None:
    """Map transport exceptions (openai SDK, httpx, asyncio) to a retry decision; None = a bug, re-raise."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, openai.APITimeoutError, httpx.TimeoutException)):
        return _Transient("timeout", "timeout", retry=True)
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, ConnectionError)):
        label = "connection refused" if _caused_by(exc, ConnectionRefusedError) else "connection error"
        return _Transient("connection", label, retry=True)
    status: int | None = None
    detail = ""
    if isinstance(exc, openai.APIStatusError):
        status, detail = exc.status_code, _status_detail(exc.body, exc.message)
    elif isinstance(exc, httpx.HTTPStatusError):
        status, detail = exc.response.status_code, exc.response.text
    if status is not None:
        if status >= 500 or status in (408, 429):
            return _Transient("server_error", f"HTTP {status}", retry=True)
        detail = " ".join(detail.split())[:200]
        label = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
        return _Transient("client_error", label, retry=False)
    if isinstance(exc, openai.APIError):
        return _Transient("bad_response", f"malformed response ({type(exc).__name__})", retry=True)
    if isinstance(exc, AttributeError | TypeError | KeyError | IndexError):
        # The openai SDK hands a non-JSON body (a proxy's HTML page) to autogen as a bare string,
        # which then fails attribute access. Named in the reason, so a real bug is not disguised.
        detail = " ".join(str(exc).split())[:120]
        return _Transient("bad_response", f"malformed response ({type(exc).__name__}: {detail})", retry=True)
    return None


def _status_detail(body: object, message: str) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return message


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, kind):
            return True
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return False
