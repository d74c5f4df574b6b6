"""No model fault loses the run: every bad answer path, time budgets, no leaks (issue 15, item 2).

Real HTTP servers (tests/fake_openai.py) answer 200 with bodies that are not chat completions, or
answers that break the schema, or never answer at all; the whole case flow runs against them, and
the CLI runs against them with credentials in the URL. Budgets are short here (parameters and
environment); bench_silent_endpoint.py measures the defaults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fake_openai import NEVER, FakeOpenAIServer, RawBody, always, chat_completion
from sample_records import tiny_bundle, tiny_record
from test_case_flow import QUESTION

from medboard.agents.case import CaseInput
from medboard.agents.ehr.reader import TextReading
from medboard.agents.imaging.reader import reading_schema
from medboard.agents.longitudinal.reader import change_schema
from medboard.agents.synthesizer.board.model_text import answer_schema
from medboard.agents.verifier.entailment import EntailmentJudgement
from medboard.cli.main import main
from medboard.errors import ModelEndpointError
from medboard.limits import limits
from medboard.llm.calls import ModelCaller
from medboard.llm.client import make_chat_client
from medboard.llm.endpoint import ModelEndpoint
from medboard.llm.errors import ModelCallError
from medboard.llm.health import health_check
from medboard.llm.schema import bounded_schema
from medboard.models import CaseSummary, SectionKind
from medboard.orchestrator.flow import run_case_flow

#: Words of the note (and so of every request) that must never reach an error field or a log.
ECHO = "Zolgensmarker ritonavirquux"
NOTE = f"Seen in clinic. Left breast mass excised; margins clear. {ECHO}. Plan: tumour board."
COMPLETION = chat_completion('{"findings": []}')
BIG = 10 * 1024 * 1024


def caller_for(base_url: str, **overrides: Any) -> ModelCaller:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "model": "fake-model",
        "timeout_s": 1.0,
        "max_retries": 1,
        "backoff_s": 0.01,
    }
    settings.update(overrides)
    endpoint = ModelEndpoint(**settings)
    return ModelCaller(make_chat_client(endpoint), endpoint)


def echoing(status: int, wrap: str) -> Any:
    """A responder whose body quotes the request (as some servers' error pages do)."""

    def respond(body: dict[str, Any]) -> tuple[int, Any, float]:
        prompt = json.dumps(body["messages"])
        return status, RawBody(wrap.format(prompt=prompt).encode(), "application/json"), 0.0

    return respond


BODIES: dict[str, Any] = {
    "html-text-plain": always(200, RawBody(b"<html>502 Bad Gateway</html>", "text/plain")),
    "html-as-json": always(200, RawBody(b"<html>502 Bad Gateway</html>")),
    "not-json-echoing": echoing(200, "upstream said: {prompt}"),
    "truncated-body": always(200, RawBody(json.dumps(COMPLETION).encode()[:70])),
    "foo-body": always(200, RawBody(b'{"foo": 1}')),
    "empty-body": always(200, RawBody(b"")),
    "huge-body": always(200, RawBody(b'{"pad": "' + b"x" * BIG + b'"}')),
    "foo-answer": always(200, chat_completion('{"foo": 1}')),
    "empty-object-answer": always(200, chat_completion("{}")),
    "empty-answer": always(200, chat_completion("")),
    "http-400-echoing": echoing(400, '{{"error": {{"message": "bad request: {prompt}"}}}}'),
    "http-500-echoing": echoing(500, '{{"error": {{"message": "engine died on {prompt}"}}}}'),
}
CATEGORY = {
    "html-text-plain": "not JSON",
    "html-as-json": "not JSON",
    "not-json-echoing": "not JSON",
    "truncated-body": "truncated JSON",
    "foo-body": "not a chat completion",
    "empty-body": "empty",
    "huge-body": "max_answer_bytes",
    "foo-answer": "schema violation: ",
    "empty-object-answer": "schema violation: ",
    "empty-answer": "empty answer",
    "http-400-echoing": "HTTP 400 (request refused as invalid)",
    "http-500-echoing": "HTTP 500 (server error)",
}


def error_texts(summary: CaseSummary) -> list[str]:
    texts = [s.error or "" for s in summary.sections]
    texts += [a.error or "" for a in summary.run.agents]
    texts += list(summary.run.warnings)
    return texts


@pytest.mark.parametrize("fault", list(BODIES), ids=list(BODIES))
async def test_every_bad_answer_degrades_its_sections_and_keeps_the_run(
    fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with FakeOpenAIServer(BODIES[fault], models=["fake-model"]) as server:
        caller = caller_for(server.base_url)
        case = CaseInput(case_id="tiny", record=tiny_record(note=NOTE), question=QUESTION)
        summary = await run_case_flow(case, caller=caller)
        await caller.close()

    # The deterministic summary is whole and verified.
    labs = summary.section(SectionKind.key_labs)
    assert labs is not None and any("10.1 g/dL" in s.text for s in labs.statements)
    cancer = summary.section(SectionKind.cancer)
    assert cancer is not None and any("Estrogen receptor" in s.text for s in cancer.statements)
    headline = summary.section(SectionKind.headline)
    assert headline is not None and headline.statements, "the template's headline stays"
    answer = summary.section(SectionKind.answer)
    assert answer is not None and "No model answered" in (answer.error or ""), "the deterministic answer"
    assert all(s.verdict is not None for s in summary.statements())
    # The model's parts say they failed, and why, in a fixed category.
    assert answer.status == "degraded" and "Model answer failed" in (answer.error or "")
    assert CATEGORY[fault] in (answer.error or "")
    synth = next(a for a in summary.run.agents if a.agent == "synthesizer")
    headline_failure = (synth.error or "").partition("headline: ")[2]
    assert synth.status == "degraded" and CATEGORY[fault] in headline_failure
    ehr = next(a for a in summary.run.agents if a.agent == "ehr")
    assert ehr.status == "degraded" and CATEGORY[fault] in (ehr.error or "")
    # Nothing of the request (the note, echoed by some of these servers) is stored or logged.
    for text in [*error_texts(summary), caplog.text]:
        assert "Zolgensmarker" not in text and "ritonavir" not in text


async def test_huge_body_is_refused_at_the_cap_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_ANSWER_BYTES", "4096")
    limits.cache_clear()
    try:
        answer = chat_completion(json.dumps({"findings": [], "pad": "y" * 5000}))
        with FakeOpenAIServer(always(200, answer), models=["fake-model"]) as server:
            caller = caller_for(server.base_url, max_retries=2)
            with pytest.raises(ModelCallError) as info:
                await caller.structured(messages=_messages(), schema=TextReading, agent="ehr", purpose="read")
            await caller.close()
    finally:
        limits.cache_clear()
    assert info.value.kind == "bad_response"
    assert "max_answer_bytes" in info.value.reason and "MEDBOARD_MAX_ANSWER_BYTES" in info.value.reason
    assert len(server.requests) == 1, "an over-cap answer comes back the same way: not retried"


async def test_a_bug_in_the_client_is_raised_not_called_a_bad_response() -> None:
    class BrokenClient:
        async def create(self, *args: Any, **kwargs: Any) -> Any:
            return None.usage  # type: ignore[attr-defined]  # an AttributeError in our own code

        async def close(self) -> None:
            pass

    caller = ModelCaller(BrokenClient(), ModelEndpoint(model="m"))  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        await caller.structured(messages=_messages(), schema=TextReading, agent="ehr", purpose="read")


@pytest.mark.parametrize(
    "bug", [TypeError("bad operand"), KeyError("choices"), ValueError("bad"), RuntimeError("oops")]
)
async def test_a_programming_error_is_never_retried_as_a_model_fault(
    bug: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only classified transport faults are retried; a bug is raised on the first attempt, unchanged."""
    calls: list[int] = []
    waits: list[float] = []

    async def record_sleep(delay: float) -> None:
        waits.append(delay)

    class BuggyClient:
        async def create(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            raise bug

        async def close(self) -> None:
            pass

    monkeypatch.setattr("medboard.llm.calls.asyncio.sleep", record_sleep)
    caller = ModelCaller(BuggyClient(), ModelEndpoint(model="m", max_retries=5))  # type: ignore[arg-type]
    with pytest.raises(type(bug)) as info:
        await caller.structured(messages=_messages(), schema=TextReading, agent="ehr", purpose="read")
    assert info.value is bug
    assert len(calls) == 1 and waits == []
    assert caller.records == []  # not recorded as a failed model call either


def test_every_agent_schema_forbids_extra_fields_and_requires_its_content() -> None:
    from pydantic import ValidationError

    schemas = [
        TextReading,
        reading_schema(3),
        change_schema(),
        answer_schema(["f1", "f2"]),
        EntailmentJudgement,
    ]
    for schema in schemas:
        for bad in ({"foo": 1}, {}):
            with pytest.raises(ValidationError):
                schema.model_validate(bad)

        def walk(node: Any, name: str = schema.__name__) -> None:
            if isinstance(node, dict):
                if node.get("type") == "object" and "properties" in node:
                    assert node.get("additionalProperties") is False, name
                for value in node.values():
                    walk(value, name)
            elif isinstance(node, list):
                for value in node:
                    walk(value, name)

        walk(schema.model_json_schema())
        walk(bounded_schema(schema))


# ------------------------------------------------------------------------------ time budgets


async def test_never_answering_endpoint_publishes_the_deterministic_summary_within_the_budget() -> None:
    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        caller = caller_for(server.base_url, timeout_s=60, call_budget_s=60)
        case = CaseInput(case_id="tiny", record=tiny_record(note=NOTE), question=QUESTION)
        started = time.monotonic()
        summary = await run_case_flow(case, caller=caller, run_budget_s=1.5)
        elapsed = time.monotonic() - started
        await caller.close()

    # The answer and the headline are asked after the EHR read used the budget up: both are
    # refused at once, not waited for.
    assert elapsed < 1.5 + 5, f"took {elapsed:.1f} s"
    answer = summary.section(SectionKind.answer)
    assert answer is not None and "run time budget of 1.5 s used up" in (answer.error or "")
    assert "No model answered" in (answer.error or ""), "the deterministic answer stands in"
    synth = next(a for a in summary.run.agents if a.agent == "synthesizer")
    assert synth.status == "degraded" and "headline: run time budget of 1.5 s used up" in (synth.error or "")
    cancer = summary.section(SectionKind.cancer)
    assert cancer is not None and any("Estrogen receptor" in s.text for s in cancer.statements)
    ehr = next(a for a in summary.run.agents if a.agent == "ehr")
    assert ehr.status == "degraded" and "MEDBOARD_RUN_BUDGET_S" in (ehr.error or "")
    assert any(w.startswith("model: run time budget of 1.5 s used up") for w in summary.run.warnings)
    assert all(s.verdict is not None for s in summary.statements())


async def test_call_budget_bounds_one_call_with_its_retries() -> None:
    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        caller = caller_for(server.base_url, timeout_s=0.4, max_retries=10, call_budget_s=1.0)
        started = time.monotonic()
        with pytest.raises(ModelCallError) as info:
            await caller.structured(messages=_messages(), schema=TextReading, agent="ehr", purpose="read")
        elapsed = time.monotonic() - started
        await caller.close()
    assert elapsed < 1.0 + 0.5
    assert info.value.kind == "budget"
    assert (
        info.value.reason.startswith("timeout after ")
        and "call time budget of 1 s used up" in info.value.reason
    )
    assert 2 <= len(server.requests) <= 3


async def test_retries_wait_with_full_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def record_sleep(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("medboard.llm.calls.asyncio.sleep", record_sleep)
    with FakeOpenAIServer(always(503, {"error": {"message": "overloaded"}}), models=["m"]) as server:
        caller = caller_for(server.base_url, max_retries=3, backoff_s=1.0)
        for _ in range(8):
            with pytest.raises(ModelCallError):
                await caller.structured(messages=_messages(), schema=TextReading, agent="ehr", purpose="read")
        await caller.close()
    assert len(waits) == 8 * 3
    firsts, thirds = waits[0::3], waits[2::3]
    assert all(0 <= w <= 1.0 for w in firsts) and all(0 <= w <= 4.0 for w in thirds)
    assert len(set(waits)) > 20, "waits are random, not a fixed schedule"


async def test_silent_health_check_fails_fast_with_exit_3() -> None:
    with FakeOpenAIServer(always(200, COMPLETION), models=["m"], models_delay=NEVER) as server:
        endpoint = ModelEndpoint(base_url=server.base_url, model="m", health_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(ModelEndpointError, match=r"did not answer GET /models within 0.5 s") as info:
            await health_check(endpoint)
    assert time.monotonic() - started < 3
    assert info.value.exit_code == 3


def test_run_budget_from_the_environment_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _case_file(tmp_path)
    monkeypatch.setenv("MEDBOARD_RUN_BUDGET_S", "1.5")
    monkeypatch.setenv("MEDBOARD_MODEL", "fake-model")
    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        started = time.monotonic()
        code = main(["run", str(case), "--model", server.base_url, "--out", str(tmp_path / "out")])
        elapsed = time.monotonic() - started
    assert code == 0, capsys.readouterr().err
    assert elapsed < 1.5 + 10
    summary = CaseSummary.model_validate_json((tmp_path / "out" / "summary.json").read_text())
    assert any("run time budget of 1.5 s used up" in w for w in summary.run.warnings)


def test_run_budget_from_the_time_budget_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`medboard run --time-budget S` wins over the environment's budget."""
    case = _case_file(tmp_path)
    monkeypatch.setenv("MEDBOARD_RUN_BUDGET_S", "600")
    monkeypatch.setenv("MEDBOARD_MODEL", "fake-model")
    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        started = time.monotonic()
        code = main(
            ["run", str(case), "--model", server.base_url, "--time-budget", "1.5", "-o", str(tmp_path / "o")]
        )
        elapsed = time.monotonic() - started
    assert code == 0, capsys.readouterr().err
    assert elapsed < 1.5 + 10
    summary = CaseSummary.model_validate_json((tmp_path / "o" / "summary.json").read_text())
    assert any("run time budget of 1.5 s used up" in w for w in summary.run.warnings)


async def test_api_run_case_takes_the_budget_as_a_parameter(tmp_path: Path) -> None:
    from medboard.api import run_case

    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        started = time.monotonic()
        summary = await run_case(
            _case_file(tmp_path),
            model=server.base_url,
            model_overrides={"model": "fake-model"},
            run_budget_s=1.0,
        )
    assert time.monotonic() - started < 1.0 + 10
    assert any("run time budget of 1 s used up" in w for w in summary.run.warnings)


# ------------------------------------------------------------------------------ credentials


def test_credentials_in_the_model_url_are_never_recorded_or_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    case = _case_file(tmp_path)
    out = tmp_path / "out"
    with FakeOpenAIServer(BODIES["http-500-echoing"], models=["fake-model"]) as server:
        url = server.base_url.replace("http://", "http://alice:hunter2@")
        code = main(["run", str(case), "--model", url, "--model-name", "fake-model", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary_json = (out / "summary.json").read_text()
    summary = CaseSummary.model_validate_json(summary_json)
    assert summary.run.model is not None and summary.run.model.endpoint == url.replace("alice:hunter2", "***")
    for text in (summary_json, (out / "summary.md").read_text(), captured.err, captured.out, caplog.text):
        assert "hunter2" not in text and "alice" not in text
        assert "engine died" not in text  # the endpoint's (echoing) error body is never kept
    assert not any("Zolgensmarker" in text for text in error_texts(summary))


def test_token_in_the_query_is_not_in_the_exit_3_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = _case_file(tmp_path)
    with FakeOpenAIServer(always(200, COMPLETION), models=["other-model"]) as server:
        url = f"http://bob:s3cret@{server.base_url.split('://')[1]}?token=tok-XYZ"
        code = main(["run", str(case), "--model", url, "--model-name", "fake-model"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("medboard: error: model endpoint http://***@127.0.0.1")
    assert "tok-XYZ" not in err and "s3cret" not in err and "bob" not in err


def test_model_health_command_sends_the_api_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(always(200, COMPLETION), models=["m"], api_key="sesame") as server:
        monkeypatch.setenv("MEDBOARD_API_KEY", "sesame")
        assert main(["model", "health", "--url", server.base_url, "--model", "m"]) == 0
        assert f"ok: {server.base_url} serves m" in capsys.readouterr().out
        monkeypatch.setenv("MEDBOARD_API_KEY", "wrong")
        assert main(["model", "health", "--url", server.base_url, "--model", "m"]) == 3
        err = capsys.readouterr().err
        assert "refused the API key" in err and "wrong" not in err


@pytest.mark.parametrize("key_from", ["environment", "config file"])
def test_model_health_authenticates_exactly_like_a_run(
    key_from: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One code path: wherever the key comes from, `model health` and `run`'s health check agree."""
    monkeypatch.delenv("MEDBOARD_API_KEY", raising=False)
    case = _case_file(tmp_path)
    config = tmp_path / "medboard.toml"
    monkeypatch.setenv("MEDBOARD_CONFIG", str(config))

    def use_key(key: str) -> None:
        if key_from == "environment":
            config.write_text("[model]\n")
            monkeypatch.setenv("MEDBOARD_API_KEY", key)
        else:
            config.write_text(f'[model]\napi_key = "{key}"\n')

    with FakeOpenAIServer(always(200, COMPLETION), models=["fake-model"], api_key="sesame") as server:
        health = ["model", "health", "--url", server.base_url, "--model", "fake-model"]
        run = ["run", str(case), "--model", server.base_url, "--model-name", "fake-model"]
        use_key("sesame")
        for command in (health, [*run, "-o", str(tmp_path / "out")]):
            code = main(command)
            assert code == 0, capsys.readouterr().err
            capsys.readouterr()
        assert server.requests, "the run's chat requests carried the key too (the server refuses others)"
        use_key("not-sesame")
        refused = []
        for command in (health, run):
            assert main(command) == 3
            err = capsys.readouterr().err
            assert "not-sesame" not in err
            refused.append(err.strip())
    assert refused[0] == refused[1]
    assert refused[0].endswith(f"{server.base_url} refused the API key (HTTP 401); set MEDBOARD_API_KEY")


def test_model_health_command_times_out_fast_on_a_silent_server(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(always(200, COMPLETION), models=["m"], models_delay=NEVER) as server:
        started = time.monotonic()
        code = main(["model", "health", "--url", server.base_url, "--model", "m", "--timeout", "0.5"])
    assert code == 3 and time.monotonic() - started < 3
    assert "did not answer GET /models within 0.5 s" in capsys.readouterr().err


# ------------------------------------------------------------------------------ replay input


@pytest.mark.parametrize("target", ["folder", "/dev/zero"])
def test_replay_of_a_folder_or_a_device_is_one_clean_line(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path) if target == "folder" else target
    code = main(["run", str(_case_file(tmp_path)), "--replay", path])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not a regular file" in err


# ------------------------------------------------------------------------------ helpers


def _messages() -> list[Any]:
    from autogen_core.models import UserMessage

    return [UserMessage(content=f"Read this note: {NOTE}", source="test")]


def _case_file(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(tiny_bundle(note=NOTE)))
    case = tmp_path / "case.yaml"
    case.write_text(f"id: tiny\nrecord: bundle.json\nquestion: {QUESTION}\n")
    return case


async def test_open_caller_bounds_calls_outside_a_case_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    """`medboard verify --model URL` and other non-flow users get the run budget too."""
    from medboard.api import open_caller

    monkeypatch.setenv("MEDBOARD_RUN_BUDGET_S", "1")
    with FakeOpenAIServer(always(200, COMPLETION, delay=NEVER), models=["fake-model"]) as server:
        async with open_caller(server.base_url, overrides={"model": "fake-model"}) as caller:
            assert caller is not None
            started = time.monotonic()
            with pytest.raises(ModelCallError) as info:
                await caller.structured(
                    messages=_messages(), schema=TextReading, agent="verifier", purpose="x"
                )
    assert time.monotonic() - started < 1 + 1.5
    assert info.value.kind == "budget" and "run time budget of 1 s used up" in info.value.reason
