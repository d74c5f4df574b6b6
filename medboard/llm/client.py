"""The one factory for a live model client: autogen-ext's `OpenAIChatCompletionClient`.

Why these settings:
- `model_info` must be given explicitly: autogen only knows OpenAI's own model names and refuses
  an unknown one without it. MedGemma has no tool calling in vLLM's default setup
  (`function_calling=False`), answers JSON when asked (`json_output=True`) and vLLM implements
  `response_format: json_schema` with guided decoding (`structured_output=True`). The family is
  "unknown" so autogen applies no vendor-specific message rewriting. Gemma's chat template folds a
  system turn into the first user turn, so `multiple_system_messages=False` lets autogen merge
  consecutive system messages into one.
- `max_retries=0`: `ModelCaller` owns retries (with backoff and a record of attempts); the openai
  SDK's own retries would multiply with ours and hide how many requests were really made.
- `http_client`: the SDK's own default client over `medboard.llm.transport.checking_transport`,
  which bounds every body (`limits().max_answer_bytes`) and turns a 200 that is not a chat
  completion into one classified `MalformedResponseError` before the SDK trips over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autogen_core.models import ModelInfo
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from medboard.llm.endpoint import ModelEndpoint


def model_info_for(endpoint: ModelEndpoint) -> ModelInfo:
    """autogen `ModelInfo` for a vLLM-served Gemma/MedGemma model."""
    from autogen_core.models import ModelFamily, ModelInfo

    return ModelInfo(
        vision=endpoint.vision,
        function_calling=False,
        json_output=True,
        structured_output=True,
        family=ModelFamily.UNKNOWN,
        multiple_system_messages=False,
    )


def make_chat_client(endpoint: ModelEndpoint, **overrides: Any) -> OpenAIChatCompletionClient:
    """A live client for `endpoint`. `overrides` go to `OpenAIChatCompletionClient` as is (e.g. `seed`)."""
    import openai
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from medboard.llm.transport import checking_transport

    kwargs: dict[str, Any] = {
        "model": endpoint.model,
        "base_url": endpoint.base_url,
        "api_key": endpoint.api_key.get_secret_value(),
        "timeout": endpoint.timeout_s,
        "max_retries": 0,
        "model_info": model_info_for(endpoint),
        "temperature": endpoint.temperature,
        "max_tokens": endpoint.max_tokens,
        "http_client": openai.DefaultAsyncHttpxClient(transport=checking_transport()),
    }
    kwargs.update(overrides)
    return OpenAIChatCompletionClient(**kwargs)
