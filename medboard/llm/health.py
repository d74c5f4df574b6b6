"""Is the endpoint usable before a run starts? A clear `ModelEndpointError` (exit 3) if not.

One GET of `/v1/models` answers three questions: is something listening, does it accept our key,
and does it serve the model we are configured for (if not, the message lists what it serves, which
is usually the fix: a different `--model` or `MEDBOARD_MODEL`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from medboard.errors import ModelEndpointError
from medboard.limits import limits
from medboard.llm.endpoint import ModelEndpoint
from medboard.textsafety import neutralize_line

logger = logging.getLogger(__name__)


async def checked_endpoint(cli: Mapping[str, Any] | None = None) -> ModelEndpoint:
    """The endpoint a run would use (CLI > environment > config file > defaults), checked.

    `medboard model health` calls exactly this, so it resolves the key and the URL, and
    authenticates, the way a run's own health check does.
    """
    endpoint = ModelEndpoint.from_sources(cli)
    await health_check(endpoint)
    return endpoint


async def health_check(endpoint: ModelEndpoint, *, timeout_s: float | None = None) -> list[str]:
    """The ids the endpoint serves; raises `ModelEndpointError` unless `endpoint.model` is among them.

    The whole check (connect, answer, body) is bounded by `timeout_s` or `endpoint.health_timeout_s`:
    a server that accepts the connection and never answers fails in that time, not after the
    per-request model timeout. The body is read up to `limits().max_answer_bytes`. Messages name
    the endpoint by `safe_url` (no credentials).
    """
    timeout = timeout_s if timeout_s is not None else endpoint.health_timeout_s
    where = f"model endpoint {endpoint.safe_url}"
    try:
        status, body = await asyncio.wait_for(_get_models(endpoint, timeout), timeout=timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise ModelEndpointError(f"{where} did not answer GET /models within {timeout:g} s") from None
    except httpx.ConnectError:
        raise ModelEndpointError(f"{where} is unreachable (connection refused or host not found)") from None
    except httpx.HTTPError as err:
        raise ModelEndpointError(f"{where} failed: {type(err).__name__}") from None

    if status in (401, 403):
        raise ModelEndpointError(f"{where} refused the API key (HTTP {status}); set MEDBOARD_API_KEY")
    if status != 200:
        raise ModelEndpointError(f"{where} answered HTTP {status} to GET /models")
    if body is None:
        cap = limits().max_answer_bytes
        raise ModelEndpointError(f"{where} answered GET /models with more than {cap} bytes")
    try:
        cards = {str(item["id"]): item for item in json.loads(body)["data"]}
    except (ValueError, KeyError, TypeError, RecursionError):
        raise ModelEndpointError(f"{where} is not an OpenAI-compatible server (bad /models answer)") from None
    served = list(cards)
    if endpoint.model not in cards:
        listed = neutralize_line(", ".join(served))[:500] if served else "no models"
        raise ModelEndpointError(f"{where} does not serve {endpoint.model!r}; it serves: {listed}")
    card = cards[endpoint.model]
    served_len = card.get("max_model_len") if isinstance(card, dict) else None  # vLLM's --max-model-len
    if isinstance(served_len, int) and served_len < endpoint.context_length:
        logger.warning(
            "%s serves %s with max_model_len %d, below the configured context_length %d: long prompts "
            "will be refused (set MEDBOARD_CONTEXT_LENGTH or restart vLLM with a larger --max-model-len)",
            where,
            endpoint.model,
            served_len,
            endpoint.context_length,
        )
    return served


async def _get_models(endpoint: ModelEndpoint, timeout: float) -> tuple[int, bytes | None]:
    """Status and body of GET /models (body None when over the answer cap)."""
    key = endpoint.api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity"}
    cap = limits().max_answer_bytes
    url = f"{endpoint.base_url}/models"
    async with httpx.AsyncClient(timeout=timeout) as http, http.stream("GET", url, headers=headers) as resp:
        if resp.status_code != 200:
            return resp.status_code, b""
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > cap:
                return resp.status_code, None
            chunks.append(chunk)
        return resp.status_code, b"".join(chunks)
