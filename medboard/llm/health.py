"""Is the endpoint usable before a run starts? A clear `ModelEndpointError` (exit 3) if not.

One GET of `/v1/models` answers three questions: is something listening, does it accept our key,
and does it serve the model we are configured for (if not, the message lists what it serves, which
is usually the fix: a different `--model` or `MEDBOARD_MODEL`).
"""

from __future__ import annotations

import logging

import httpx

from medboard.errors import ModelEndpointError
from medboard.llm.endpoint import ModelEndpoint

logger = logging.getLogger(__name__)


async def health_check(endpoint: ModelEndpoint, *, timeout_s: float | None = None) -> list[str]:
    """The ids the endpoint serves; raises `ModelEndpointError` unless `endpoint.model` is among them."""
    url = f"{endpoint.base_url}/models"
    headers = {"Authorization": f"Bearer {endpoint.api_key.get_secret_value()}"}
    timeout = timeout_s if timeout_s is not None else min(endpoint.timeout_s, 30.0)
    where = f"model endpoint {endpoint.base_url}"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url, headers=headers)
    except httpx.ConnectError:
        raise ModelEndpointError(f"{where} is unreachable (connection refused or host not found)") from None
    except httpx.TimeoutException:
        raise ModelEndpointError(f"{where} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as err:
        raise ModelEndpointError(f"{where} failed: {type(err).__name__}") from None

    if response.status_code in (401, 403):
        raise ModelEndpointError(
            f"{where} refused the API key (HTTP {response.status_code}); set MEDBOARD_API_KEY"
        )
    if response.status_code != 200:
        raise ModelEndpointError(f"{where} answered HTTP {response.status_code} to GET /models")
    try:
        cards = {str(item["id"]): item for item in response.json()["data"]}
    except (ValueError, KeyError, TypeError):
        raise ModelEndpointError(f"{where} is not an OpenAI-compatible server (bad /models answer)") from None
    served = list(cards)
    if endpoint.model not in cards:
        listed = ", ".join(served) if served else "no models"
        raise ModelEndpointError(f"{where} does not serve {endpoint.model!r}; it serves: {listed}")
    served_len = cards[endpoint.model].get("max_model_len")  # vLLM publishes its --max-model-len
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
