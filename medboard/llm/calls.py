"""`ModelCaller`: the one way agents call a model.

Every agent request goes through here so that every request gets the same treatment:
- a concurrency limit (a `CallGate`: by default `endpoint.max_concurrency` in this process, or a
  gate shared across workers; held only while a request is in flight);
- bounded retries on timeouts, 5xx/429, refused or dropped connections and malformed bodies, with
  exponential backoff and *full jitter* (retry n waits a uniformly random time in
  [0, backoff_s * 2**(n-1)], capped at 30 s) so that concurrent callers that failed together do
  not retry in lockstep; 4xx answers (prompt too long, bad request) are not retried — they would
  fail the same way. The loop is tenacity's (`AsyncRetrying` + `wait_random_exponential`, which is
  exactly full jitter); tenacity rather than stamina because stamina's jitter is additive (not
  full) and its one timeout cannot see our two budgets, while tenacity's stop conditions compose:
  the budgets are one more stop (`budget_stop`: the drawn wait would outlast the time left);
- only classified model faults are retried (`_classify`): a bug (`AttributeError`, `TypeError`,
  `KeyError`, anything not from the transport) propagates at once, never as a model fault;
- time budgets: each request is cut at `endpoint.timeout_s`, each logical call (attempts, backoff
  and repair together) at `endpoint.call_budget_s`, and every call at the end of the case's run
  budget (`medboard.llm.budget`); a call out of time fails as `kind="budget"` without sending;
- structured output: the pydantic schema goes out as `response_format` json_schema (bounded, see
  `medboard.llm.schema`), the answer has thinking spans and code fences stripped, is parsed and
  validated; invalid, truncated, empty or schema-violating JSON gets one single-turn repair
  request, then a `ModelCallError` with a short reason;
- a body that is not a chat completion at all (non-JSON, truncated, `{"foo": 1}`, empty, over
  `limits().max_answer_bytes`) is caught where it arrives, in `medboard.llm.transport`, and
  classified here by that cause: the SDK's and autogen's own `AttributeError`/`TypeError` are
  never caught, so a bug stays a bug;
- failure reasons are fixed categories (`HTTP 400 (prompt longer than the served context)`):
  an endpoint's error text can echo the request (drug names, resource ids), so it is never
  logged or stored verbatim — at most a redacted, capped hint at DEBUG;
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
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from medboard.limits import env_var, limits
from medboard.llm.budget import current_budget
from medboard.llm.context import CallContext, current_call
from medboard.llm.endpoint import ModelEndpoint
from medboard.llm.errors import CassetteMissError, FailureKind, ModelCallError
from medboard.llm.gate import CallGate, LocalGate
from medboard.llm.parsing import clean_answer, load_json, strip_thinking
from medboard.llm.records import CallRecord, CallTotals, totals_by_agent
from medboard.llm.schema import response_format_for, schema_text
from medboard.llm.transport import COMPRESSED, TOO_LARGE, MalformedResponseError
from medboard.textsafety import neutralize_line, redact_urls

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=BaseException)

MAX_BACKOFF_S = 30.0
_CALL_BUDGET_ENV = "MEDBOARD_MODEL_CALL_BUDGET"
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
    #: Monotonic time at which this logical call's own budget (`call_budget_s`) ends.
    call_deadline: float = float("inf")


@dataclass(frozen=True)
class _Transient:
    kind: FailureKind
    label: str
    retry: bool


class _Retryable(Exception):
    """A model fault worth another attempt (the only exception the retry policy retries)."""

    def __init__(self, failure: _Transient) -> None:
        super().__init__(failure.label)
        self.failure = failure


class _WaitOutlastsBudget(stop_base):
    """tenacity stop: the drawn wait would not end before the binding budget (call or run) does.

    Remembers the budget's reason for the error message, as it was when the decision was taken.
    """

    def __init__(self, time_left: Callable[[], tuple[float, str]]) -> None:
        self.time_left = time_left
        self.reason = ""

    def __call__(self, retry_state: RetryCallState) -> bool:
        left, self.reason = self.time_left()
        return retry_state.upcoming_sleep >= left


async def _sleep(seconds: float) -> None:
    """The retry wait, looked up at call time (tests replace `asyncio.sleep` to record the waits)."""
    await asyncio.sleep(seconds)


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
        gate: CallGate | None = None,
    ) -> None:
        self.client = client
        self.endpoint = endpoint if endpoint is not None else ModelEndpoint()
        self.repair = repair
        self.records: list[CallRecord] = []
        # Requests in flight are capped by the gate: this process's own (default) or one shared
        # by every worker of a distributed run (`medboard.llm.gate`).
        self.gate: CallGate = gate if gate is not None else LocalGate(self.endpoint.max_concurrency)

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
        tally = _Tally(call_deadline=time.monotonic() + self.endpoint.call_budget_s)
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
        """One logical request with transport retries. Counts attempts and tokens into `tally`.

        tenacity runs the loop: `_Retryable` faults are retried with full jitter until the attempts
        run out or the next wait would not fit in the time left (`budget_stop`); every other
        exception (a `ModelCallError` already decided, a bug, a cancellation) passes straight through.
        """
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
        number = 0  # this request's attempts (tally.attempts also counts the repair request's)
        budget_stop = _WaitOutlastsBudget(lambda: self._time_left(tally))

        async def send() -> CreateResult:
            nonlocal number
            left, reason = self._time_left(tally)
            if left <= 0:
                raise self._out_of_time(ctx, reason, tally)
            number += 1
            tally.attempts += 1
            try:
                async with self.gate.slot():
                    left, reason = self._time_left(tally)  # the wait for a slot counts
                    if left <= 0:
                        raise TimeoutError
                    result = await asyncio.wait_for(
                        self.client.create(list(messages), extra_create_args=extra),
                        timeout=min(guard_s, left),
                    )
            except CassetteMissError:
                raise
            except Exception as exc:
                failure = _classify(exc)
                if failure is None:
                    raise  # a bug: never disguised as a model fault
                if self._time_left(tally)[0] <= 0:
                    raise self._out_of_time(ctx, reason, tally, after=failure) from exc
                if not failure.retry:
                    raise ModelCallError(
                        failure.label, kind=failure.kind, agent=ctx.agent, purpose=ctx.purpose
                    ) from exc
                raise _Retryable(failure) from exc
            tally.prompt_tokens += result.usage.prompt_tokens
            tally.completion_tokens += result.usage.completion_tokens
            tally.finish_reason = result.finish_reason
            return result

        def log_retry(state: RetryCallState) -> None:
            fault = state.outcome.exception() if state.outcome is not None else None
            label = fault.failure.label if isinstance(fault, _Retryable) else "?"
            logger.info(
                "model request failed (%s), retry %d/%d in %.2fs: agent=%s purpose=%s",
                label,
                state.attempt_number,
                attempts_allowed - 1,
                state.upcoming_sleep,
                ctx.agent,
                ctx.purpose,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            # Full jitter: retry n waits uniformly in [0, min(backoff_s * 2**(n-1), MAX_BACKOFF_S)].
            wait=wait_random_exponential(multiplier=endpoint.backoff_s, max=MAX_BACKOFF_S),
            # Attempts first: on the last attempt the attempts are what ran out, not the time.
            stop=stop_any(stop_after_attempt(attempts_allowed), budget_stop),
            before_sleep=log_retry,
            sleep=_sleep,
            reraise=True,
        )
        token = current_call.set(ctx)
        try:
            return await retrying(send)
        except _Retryable as fault:
            label = fault.failure.label
            n = f"{number} attempt" + ("s" if number > 1 else "")
            if number >= attempts_allowed:
                raise ModelCallError(
                    f"{label} after {n}", kind=fault.failure.kind, agent=ctx.agent, purpose=ctx.purpose
                ) from fault.__cause__
            reason = f"{label} after {n}; {budget_stop.reason}"
            raise ModelCallError(
                reason, kind="budget", agent=ctx.agent, purpose=ctx.purpose
            ) from fault.__cause__
        finally:
            current_call.reset(token)

    def _time_left(self, tally: _Tally) -> tuple[float, str]:
        """Seconds left before the binding budget (this call's or the run's) ends, and its reason."""
        now = time.monotonic()
        left = tally.call_deadline - now
        reason = f"call time budget of {self.endpoint.call_budget_s:g} s used up ({_CALL_BUDGET_ENV})"
        budget = current_budget.get()
        if budget is not None and budget.remaining() < left:
            left, reason = budget.remaining(), budget.reason()
        return left, reason

    def _out_of_time(
        self, ctx: CallContext, reason: str, tally: _Tally, after: _Transient | None = None
    ) -> ModelCallError:
        budget = current_budget.get()
        if budget is not None and budget.remaining() <= 0:
            budget.exhausted = True
        if after is not None and tally.attempts:
            n = f"{tally.attempts} attempt" + ("s" if tally.attempts > 1 else "")
            reason = f"{after.label} after {n}; {reason}"
        return ModelCallError(reason, kind="budget", agent=ctx.agent, purpose=ctx.purpose)

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
    cap = limits().max_answer_bytes
    if len(raw) * 4 > cap and len(raw.encode("utf-8")) > cap:  # a replayed answer: not bounded on arrival
        allow = env_var("max_answer_bytes")
        raise _BadAnswer("bad_response", f"answer over the max_answer_bytes cap (set {allow} to allow more)")
    content = clean_answer(raw)
    truncated = finish_reason == "length"
    if not content:
        raise _BadAnswer("truncated" if truncated else "empty", "empty answer")
    try:
        data = load_json(content)
    except json.JSONDecodeError as err:
        if truncated:
            raise _BadAnswer(
                "truncated", f"truncated JSON (finish_reason=length after {completion_tokens} tokens)"
            ) from None
        raise _BadAnswer("invalid_json", f"invalid JSON: {err}") from None
    except RecursionError:
        raise _BadAnswer("invalid_json", "invalid JSON: nested too deep") from None
    try:
        return schema.model_validate(data), content
    except ValidationError as err:
        raise _BadAnswer("schema_violation", f"schema violation: {_short_errors(err)}") from None


def _short_errors(err: ValidationError, limit: int = 4) -> str:
    """Locations and messages only: input values may quote patient data."""
    parts = []
    for item in err.errors(include_input=False, include_url=False)[:limit]:
        # A location can carry a key the model made up: shown escaped and capped, never whole.
        loc = ".".join(neutralize_line(str(p))[:40] for p in item["loc"]) or "(root)"
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
    """Map transport exceptions (openai SDK, httpx, asyncio, our transport) to a retry decision.

    None means "not a transport fault": a bug, which the caller re-raises.
    """
    malformed = _cause_of(exc, MalformedResponseError)
    if malformed is not None:
        if malformed.detail:
            logger.debug("malformed model response: %s (%s)", malformed.category, malformed.detail)
        retry = malformed.category not in (TOO_LARGE, COMPRESSED)  # those come back the same way
        return _Transient("bad_response", malformed.category, retry=retry)
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
        status, detail = exc.response.status_code, exc.response.text[:2000]
    if status is not None:
        if detail:  # may echo the request: a redacted, capped hint at DEBUG only
            hint = neutralize_line(redact_urls(detail))[:200]
            logger.debug("model endpoint HTTP %d detail: %s", status, hint)
        label = f"HTTP {status} ({status_category(status, detail)})"
        if status >= 500 or status in (408, 429):
            return _Transient("server_error", label, retry=True)
        return _Transient("client_error", label, retry=False)
    if isinstance(exc, openai.APIError):
        return _Transient("bad_response", f"malformed response ({type(exc).__name__})", retry=True)
    return None


_STATUS_CATEGORIES = {
    400: "request refused as invalid",
    401: "API key refused",
    403: "API key refused",
    404: "model or route not found",
    408: "request timed out at the server",
    413: "request too large",
    422: "request not understood",
    429: "rate limited",
    500: "server error",
    502: "bad gateway",
    503: "server unavailable or overloaded",
    504: "gateway timeout",
}


def status_category(status: int, detail: str = "") -> str:
    """A fixed description of an HTTP error: the status, refined by recognisable vLLM wording.

    The endpoint's own text is only matched against, never quoted: it can echo the prompt.
    """
    text = detail.lower()
    if 400 <= status < 500:
        if any(w in text for w in ("context length", "max_model_len", "too long", "maximum context")):
            return "prompt longer than the served context (MEDBOARD_CONTEXT_LENGTH, vLLM --max-model-len)"
        if "image" in text and ("limit" in text or "at most" in text or "maximum" in text):
            return "more images than the server accepts per prompt (vLLM --limit-mm-per-prompt)"
        if "response_format" in text or "json_schema" in text or "guided" in text:
            return "structured output not accepted (response_format json_schema)"
    if status in _STATUS_CATEGORIES:
        return _STATUS_CATEGORIES[status]
    return "server error" if status >= 500 else "request refused"


def _status_detail(body: object, message: str) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return message


def _cause_of(exc: BaseException, kind: type[E]) -> E | None:
    """`exc` or the first exception in its cause/context chain that is a `kind`."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, kind):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return _cause_of(exc, kind) is not None
