"""ModelCaller against a real local HTTP server imitating vLLM's OpenAI API."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from autogen_core.models import SystemMessage, UserMessage
from fake_openai import FakeOpenAIServer, always, chat_completion, closed_port_url, sequence
from pydantic import BaseModel, Field

from medboard.errors import ModelEndpointError
from medboard.llm import ModelCaller, ModelCallError, ModelEndpoint, health_check, make_chat_client


class LabFinding(BaseModel):
    """Example of what an EHR agent asks for: every number bounded, strings capped."""

    test: str = Field(max_length=80)
    value: float = Field(ge=-1e6, le=1e6)
    unit: str = Field(max_length=20)
    flag: Literal["low", "normal", "high", "critical"]


GOOD = {"test": "Hemoglobin", "value": 9.1, "unit": "g/dL", "flag": "low"}
MESSAGES = [
    SystemMessage(content="You read lab reports."),
    UserMessage(content="Hemoglobin 9.1 g/dL (ref 12-16). Answer as JSON.", source="user"),
]


def endpoint_for(base_url: str, **overrides: Any) -> ModelEndpoint:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "model": "fake-model",
        "timeout_s": 0.5,
        "max_retries": 2,
        "backoff_s": 0.01,
    }
    settings.update(overrides)
    return ModelEndpoint(**settings)


def caller_for(base_url: str, **overrides: Any) -> ModelCaller:
    endpoint = endpoint_for(base_url, **overrides)
    return ModelCaller(make_chat_client(endpoint), endpoint)


async def test_structured_success_sends_bounded_schema_and_records_tokens() -> None:
    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        return 200, chat_completion(json.dumps(GOOD), prompt_tokens=42, completion_tokens=17), 0.0

    with FakeOpenAIServer(responder) as server:
        caller = caller_for(server.base_url)
        result = await caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
        await caller.close()

    assert result.value == LabFinding(**GOOD)
    sent = server.requests[0]
    assert sent["model"] == "fake-model"
    assert sent["temperature"] == 0
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "LabFinding"
    assert fmt["json_schema"]["schema"]["properties"]["value"]["maximum"] == 1e6
    rec = result.record
    assert (rec.agent, rec.purpose, rec.ok, rec.attempts) == ("ehr", "labs", True, 1)
    assert (rec.prompt_tokens, rec.completion_tokens) == (42, 17)
    assert caller.totals()["ehr"].prompt_tokens == 42


async def expect_failure(base_url: str, **overrides: Any) -> ModelCallError:
    caller = caller_for(base_url, **overrides)
    with pytest.raises(ModelCallError) as info:
        await caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
    await caller.close()
    err = info.value
    assert err.record is not None and not err.record.ok and err.record.error == err.reason
    assert caller.records == [err.record]
    return err


async def test_timeout_retries_then_fails_with_reason() -> None:
    with FakeOpenAIServer(always(200, chat_completion(json.dumps(GOOD)), delay=5.0)) as server:
        err = await expect_failure(server.base_url, timeout_s=0.2)
    assert err.kind == "timeout"
    assert err.reason == "timeout after 3 attempts"
    assert len(server.requests) == 3


async def test_server_error_then_success_is_retried() -> None:
    answers = sequence(
        (500, {"error": {"message": "engine died"}}, 0.0),
        (200, chat_completion(json.dumps(GOOD), prompt_tokens=30, completion_tokens=12), 0.0),
    )
    with FakeOpenAIServer(answers) as server:
        caller = caller_for(server.base_url)
        result = await caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
    assert result.value.flag == "low"
    assert result.record.attempts == 2 and result.record.ok
    assert (result.record.prompt_tokens, result.record.completion_tokens) == (30, 12)


async def test_persistent_server_error_fails_after_retries() -> None:
    with FakeOpenAIServer(always(503, {"error": {"message": "overloaded"}})) as server:
        err = await expect_failure(server.base_url)
    assert (err.kind, err.reason) == (
        "server_error",
        "HTTP 503 (server unavailable or overloaded) after 3 attempts",
    )


async def test_client_error_is_not_retried() -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens; Tamoxifen x"}}
    with FakeOpenAIServer(always(400, body)) as server:
        err = await expect_failure(server.base_url)
    assert err.kind == "client_error"
    assert err.reason.startswith("HTTP 400 (prompt longer than the served context")
    assert "Tamoxifen" not in err.reason and "8192" not in err.reason  # the body is never quoted
    assert len(server.requests) == 1


async def test_refused_connection_fails_with_reason() -> None:
    err = await expect_failure(closed_port_url())
    assert (err.kind, err.reason) == ("connection", "connection refused after 3 attempts")


async def test_garbage_answer_gets_one_repair_then_fails() -> None:
    with FakeOpenAIServer(always(200, chat_completion("I think the patient is anaemic."))) as server:
        err = await expect_failure(server.base_url)
    assert err.kind == "invalid_json"
    assert err.reason.startswith("invalid JSON: Expecting value") and "repair" in err.reason
    assert len(server.requests) == 2
    repair = server.requests[1]["messages"]
    assert len(repair) == 1 and "I think the patient is anaemic." in repair[0]["content"]
    assert err.record is not None and err.record.repaired and err.record.attempts == 2


async def test_garbage_http_body_fails_with_reason() -> None:
    with FakeOpenAIServer(always(200, "<html>502 proxy error</html>")) as server:
        err = await expect_failure(server.base_url)
    assert err.kind == "bad_response"
    assert err.reason == "response body is not JSON after 3 attempts"


async def test_truncated_json_fails_with_reason() -> None:
    cut = json.dumps(GOOD)[:25]
    payload = chat_completion(cut, finish_reason="length", completion_tokens=64)
    with FakeOpenAIServer(always(200, payload)) as server:
        err = await expect_failure(server.base_url)
    assert err.kind == "truncated"
    assert err.reason.startswith("truncated JSON (finish_reason=length after 64 tokens)")
    assert err.record is not None and err.record.completion_tokens == 128
    assert err.record.finish_reason == "length"


async def test_schema_violation_repaired() -> None:
    bad = dict(GOOD, flag="very low")

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str, float]:
        repairing = "very low" in body["messages"][-1]["content"]
        return 200, chat_completion(json.dumps(GOOD if repairing else bad)), 0.0

    with FakeOpenAIServer(responder) as server:
        caller = caller_for(server.base_url)
        result = await caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
    assert result.value.flag == "low"
    assert result.record.repaired and result.record.attempts == 2 and result.record.ok
    assert "schema violation: flag:" in server.requests[1]["messages"][0]["content"]


async def test_schema_violation_after_repair_fails_with_reason() -> None:
    bad = dict(GOOD, value="nine")
    with FakeOpenAIServer(always(200, chat_completion(json.dumps(bad)))) as server:
        err = await expect_failure(server.base_url)
    assert err.kind == "schema_violation"
    assert err.reason.startswith("schema violation: value: Input should be a valid number")
    assert "nine" not in err.reason  # reasons never quote answer values


async def test_thinking_span_and_fences_are_stripped() -> None:
    answer = "<unused94>thought\nThe Hb is low.<unused95>```json\n" + json.dumps(GOOD) + "\n```"
    with FakeOpenAIServer(always(200, chat_completion(answer))) as server:
        caller = caller_for(server.base_url)
        result = await caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
        text = await caller.text(messages=MESSAGES, agent="ehr", purpose="note")
    assert result.value == LabFinding(**GOOD)
    assert "thought" not in text.value and text.value.startswith("```json")


async def test_concurrency_limit_holds() -> None:
    import threading

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any] | str, float]:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        import time

        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return 200, chat_completion(json.dumps(GOOD)), 0.0

    import asyncio

    with FakeOpenAIServer(responder) as server:
        caller = caller_for(server.base_url, max_concurrency=2, timeout_s=5)
        await asyncio.gather(
            *(
                caller.structured(messages=MESSAGES, schema=LabFinding, agent=f"a{i % 2}", purpose="labs")
                for i in range(6)
            )
        )
    assert state["peak"] == 2
    totals = caller.totals()
    assert totals["a0"].calls == 3 and totals["a1"].completion_tokens == 21


async def test_health_check_ok_and_failures() -> None:
    with FakeOpenAIServer(always(200, {}), models=["google/medgemma-1.5-4b-it"], api_key="sesame") as server:
        good = ModelEndpoint(base_url=server.base_url, model="google/medgemma-1.5-4b-it", api_key="sesame")
        assert await health_check(good) == ["google/medgemma-1.5-4b-it"]
        with pytest.raises(ModelEndpointError, match="does not serve 'other'; it serves: google/medgemma"):
            await health_check(ModelEndpoint(base_url=server.base_url, model="other", api_key="sesame"))
        with pytest.raises(ModelEndpointError, match="refused the API key") as info:
            await health_check(
                ModelEndpoint(base_url=server.base_url, model="google/medgemma-1.5-4b-it", api_key="wrong")
            )
        assert "wrong" not in str(info.value)
    with pytest.raises(ModelEndpointError, match="unreachable") as down:
        await health_check(ModelEndpoint(base_url=closed_port_url()))
    assert down.value.exit_code == 3


async def test_too_many_images_refused_before_sending() -> None:
    from autogen_core import Image
    from PIL import Image as PILImage

    frame = Image.from_pil(PILImage.new("RGB", (8, 8)))
    many = [UserMessage(content=["prior", frame, "current", frame, "Compare."], source="user")]
    with FakeOpenAIServer(always(200, chat_completion(json.dumps(GOOD)))) as server:
        caller = caller_for(server.base_url, images_per_prompt=1)
        with pytest.raises(ModelCallError, match="request has 2 images; the endpoint accepts 1") as info:
            await caller.structured(messages=many, schema=LabFinding, agent="imaging", purpose="compare")
    assert server.requests == []
    assert info.value.record is not None and info.value.record.attempts == 0


async def test_cancelled_call_is_recorded() -> None:
    import asyncio

    with FakeOpenAIServer(always(200, chat_completion(json.dumps(GOOD)), delay=5.0)) as server:
        caller = caller_for(server.base_url, timeout_s=10)
        task = asyncio.create_task(
            caller.structured(messages=MESSAGES, schema=LabFinding, agent="ehr", purpose="labs")
        )
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [record] = caller.records
    assert (record.ok, record.error, record.attempts) == (False, "cancelled", 1)


async def test_empty_text_answer_fails() -> None:
    with FakeOpenAIServer(always(200, chat_completion("<unused94>thought\nhmm"))) as server:
        caller = caller_for(server.base_url)
        with pytest.raises(ModelCallError, match="empty answer"):
            await caller.text(messages=MESSAGES, agent="ehr", purpose="note")


async def test_health_check_warns_when_server_context_is_shorter(caplog: pytest.LogCaptureFixture) -> None:
    with FakeOpenAIServer(always(200, {}), models=["m"], max_model_len=2048) as server:
        served = await health_check(ModelEndpoint(base_url=server.base_url, model="m", context_length=8192))
    assert served == ["m"]
    assert "max_model_len 2048, below the configured context_length 8192" in caplog.text
