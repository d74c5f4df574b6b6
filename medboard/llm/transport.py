"""The HTTP transport under the openai SDK: bounded bodies, and chat answers checked on arrival.

Why here and not after the SDK: given a 200 whose body is not a chat completion, the openai SDK
and autogen-ext fail in a dozen ways that say nothing about the cause — `json.JSONDecodeError`
(a JSON content type with an HTML or truncated body), `AttributeError: 'str' object has no
attribute 'usage'` (a text/plain page handed on as a string), `TypeError`/`IndexError` (`{"foo": 1}`,
`"choices": []`), a pydantic error (a numeric `content`). Catching those types downstream would
also catch real bugs. So the transport reads each body itself, bounded by
`limits().max_answer_bytes` (a 10 MB answer is refused after that many bytes, never held whole),
and for a 200 answer to `/chat/completions` checks the shape the SDK relies on. Anything else
raises `MalformedResponseError` with a fixed category; the SDK wraps it (`APIConnectionError`
from it) and `ModelCaller` classifies it by that cause. No body text is ever quoted: a body may
echo the request (patient data).

Compressed bodies are refused rather than inflated without a bound: requests say
`Accept-Encoding: identity`, which vLLM honours.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from medboard.limits import env_var, limits

#: Categories a malformed answer is reported as (the ModelCallError reason; no body text).
NOT_JSON = "response body is not JSON"
TRUNCATED = "response body is truncated JSON"
EMPTY = "response body is empty"
TOO_LARGE = f"response body over the max_answer_bytes cap (set {env_var('max_answer_bytes')} to allow more)"
NOT_COMPLETION = "response body is not a chat completion"
COMPRESSED = "response body is compressed (Accept-Encoding: identity was asked)"


class MalformedResponseError(Exception):
    """A response the model layer cannot use; `category` is one of the constants above."""

    def __init__(self, category: str, detail: str = "") -> None:
        super().__init__(category)
        self.category = category
        #: For DEBUG logs only: a structural hint (a key name, a size), never body text.
        self.detail = detail


def sdk_http_module() -> Any:
    """The HTTP library the installed openai SDK is built on (httpx, or a fork of it)."""
    import openai

    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__[1:] if c.__name__ == "AsyncClient")
    return sys.modules[base.__module__.split(".")[0]]


def check_completion(data: bytes) -> None:
    """Raise `MalformedResponseError` unless `data` is a chat completion the SDK can read."""
    if not data.strip():
        raise MalformedResponseError(EMPTY)
    try:
        text = data.decode("utf-8")
        body = json.loads(text)
    except UnicodeDecodeError:
        raise MalformedResponseError(NOT_JSON, "not UTF-8") from None
    except json.JSONDecodeError as error:
        # Cut off mid-body: the decoder ran out of text, or out of a string that never closed.
        at_end = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
        raise MalformedResponseError(TRUNCATED if at_end else NOT_JSON, f"at char {error.pos}") from None
    except RecursionError:
        raise MalformedResponseError(NOT_JSON, "nested too deep") from None
    if not isinstance(body, dict):
        raise MalformedResponseError(NOT_COMPLETION, f"top level is {type(body).__name__}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponseError(NOT_COMPLETION, "no choices[0]")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedResponseError(NOT_COMPLETION, "no choices[0].message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedResponseError(NOT_COMPLETION, f"content is {type(content).__name__}")
    usage = body.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise MalformedResponseError(NOT_COMPLETION, "usage is not an object")


def checking_transport(inner: Any | None = None, *, max_bytes: int | None = None) -> Any:
    """A transport for the SDK's HTTP client that bounds every body and checks chat answers."""
    http = sdk_http_module()

    class CheckingTransport(http.AsyncBaseTransport):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.inner = inner if inner is not None else http.AsyncHTTPTransport()
            self.max_bytes = max_bytes

        async def handle_async_request(self, request: Any) -> Any:
            request.headers["Accept-Encoding"] = "identity"
            response = await self.inner.handle_async_request(request)
            cap = self.max_bytes if self.max_bytes is not None else limits().max_answer_bytes
            try:
                data = await _read_capped(response, cap)
            finally:
                await response.aclose()
            is_chat = request.url.path.rstrip("/").endswith("/chat/completions")
            if is_chat and response.status_code == 200:
                check_completion(data)
            headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
            return http.Response(
                response.status_code, headers=headers, content=data, extensions=response.extensions
            )

        async def aclose(self) -> None:
            await self.inner.aclose()

    return CheckingTransport()


async def _read_capped(response: Any, cap: int) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise MalformedResponseError(COMPRESSED, encoding[:20])
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise MalformedResponseError(TOO_LARGE, f"Content-Length {int(declared)} > {cap}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.stream:
        total += len(chunk)
        if total > cap:
            raise MalformedResponseError(TOO_LARGE, f"more than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
