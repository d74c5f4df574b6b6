"""A faulty network and endpoint: bodies that are not JSON, truncated, schema-violating, empty or
enormous; endpoints that hang; error bodies that echo the request; credentials in --model.

The fake OpenAI-compatible server (tests/fake_openai.py) runs in the test process on a real
socket; the CLI child talks to it over HTTP. Every answer except the faulty one comes from the
sensible fake MedGemma of tests/test_case_flow.py, so only the fault differs from a good run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fake_openai import FakeOpenAIServer, chat_completion, closed_port_url

from .corpus import (
    ENDPOINT,
    OK,
    Invocation,
    case_folder,
    hostile,
    summary_json_valid,
)

MODEL_ENV = {
    "MEDBOARD_MODEL": "fake-model",
    "MEDBOARD_MODEL_TIMEOUT": "10",
    "MEDBOARD_MODEL_RETRIES": "1",
    "MEDBOARD_MODEL_BACKOFF": "0",
}
ECHO_MARKER = "ECHO-7731-doxorubicin-Observation/tumor-marker-test-er-jenny-m"


def _good() -> Any:
    from test_case_flow import clinical_responder

    return clinical_responder()


def _faulty(schema: str, fault: tuple[int, Any, float]) -> Any:
    good = _good()

    def respond(body: dict[str, Any]) -> tuple[int, Any, float]:
        name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
        if name == schema:
            return fault
        return good(body)

    return respond


class RawJsonBody(str):
    """A body sent verbatim as ``application/json`` (the fake server sends other text as text/plain)."""


class _LyingServer(FakeOpenAIServer):
    """The fake server, able to send a broken body that claims to be JSON."""

    def _handler_class(self) -> Any:
        base = super()._handler_class()

        class Handler(base):  # type: ignore[misc, valid-type]
            def _send(self, status: int, payload: Any) -> None:
                if not isinstance(payload, RawJsonBody):
                    return super()._send(status, payload)
                data = payload.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def started(responder: Any) -> FakeOpenAIServer:
    server = _LyingServer(responder)
    server.__enter__()
    return server


def hanging_model_server() -> FakeOpenAIServer:
    """Lists its model at once, then never answers a chat request (until closed)."""
    return started(lambda body: (200, chat_completion("{}"), 3600.0))


def _section_failed(out: Path) -> Any:
    def check(outcome: Any) -> str | None:
        if outcome.returncode != 0 or not (out / "summary.json").is_file():
            return None
        data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        statuses = [s.get("status") for s in data.get("sections", [])]
        statuses += [a.get("status") for a in data.get("run", {}).get("agents", [])]
        if not any(s in ("failed", "degraded") for s in statuses):
            return f"the model fault is not visible: every section/agent reports ok ({statuses})"
        return None

    return check


def _model_run(tmp: Path, responder: Any, *, expect: tuple[int, ...] = (OK,), **kwargs: Any) -> Invocation:
    server = started(responder)
    folder = case_folder(tmp, bundle=kwargs.pop("bundle", None))
    out = tmp / "out"
    visible = [_section_failed(out)] if kwargs.pop("visible_fault", True) else []
    checks = [summary_json_valid(out), *visible, *kwargs.pop("checks", [])]
    return Invocation(
        ["run", str(folder), "--model", kwargs.pop("url", server.base_url), "--out", str(out)],
        expect=expect,
        out=out,
        env={**MODEL_ENV, **kwargs.pop("env", {})},
        checks=checks,
        resource=server,
        **kwargs,
    )


@hostile("model-fault")
def answer_content_not_json(tmp: Path) -> Invocation:
    return _model_run(
        tmp, _faulty("BoardAnswer", (200, chat_completion("Sure! Here is my answer: yes."), 0.0))
    )


@hostile("model-fault")
def answer_content_truncated_json(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, chat_completion('{"answer": "The record sh'), 0.0)))


@hostile("model-fault")
def http_200_body_not_json(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, "<html>502 Bad Gateway</html>", 0.0)))


@hostile("model-fault")
def http_200_body_truncated(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, json.dumps(chat_completion('{"a": 1}'))[:60], 0.0)))


@hostile("model-fault")
def http_200_json_content_type_body_not_json(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, RawJsonBody("<html>oops</html>"), 0.0)))


@hostile("model-fault")
def http_200_json_content_type_body_truncated(tmp: Path) -> Invocation:
    body = json.dumps(chat_completion('{"answer": "x", "supporting": [], "not_in_record": []}'))
    return _model_run(tmp, _faulty("BoardAnswer", (200, RawJsonBody(body[: len(body) // 2]), 0.0)))


@hostile("model-fault")
def first_response_json_content_type_truncated(tmp: Path) -> Invocation:
    body = json.dumps(chat_completion("ok"))
    fault = (200, RawJsonBody(body[: len(body) // 2]), 0.0)
    return _model_run(tmp, _first_call_faulty(fault), bundle=_note_bundle(), visible_fault=False)


@hostile("model-fault")
def schema_violating_answer(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, chat_completion('{"foo": 1}'), 0.0)))


@hostile("model-fault")
def schema_violating_answer_with_extra_fields(tmp: Path) -> Invocation:
    answer = {"answer": "yes", "supporting": [], "not_in_record": [], "foo": "extra"}
    return _model_run(tmp, _faulty("BoardAnswer", (200, chat_completion(json.dumps(answer)), 0.0)))


@hostile("model-fault")
def empty_answer(tmp: Path) -> Invocation:
    return _model_run(tmp, _faulty("BoardAnswer", (200, chat_completion(""), 0.0)))


@hostile("model-fault")
def enormous_answer(tmp: Path) -> Invocation:
    huge = json.dumps({"answer": "x" * (6 * 1024 * 1024), "supporting": [], "not_in_record": []})
    return _model_run(tmp, _faulty("BoardAnswer", (200, chat_completion(huge), 0.0)))


@hostile("model-fault")
def reader_answer_not_json(tmp: Path) -> Invocation:
    """The EHR reader's answer about a clinical note is not JSON (Jenny plus one real-looking note)."""
    from .fhir_inputs import with_note

    return _model_run(
        tmp,
        _faulty("TextReading", (200, chat_completion("[[[not json"), 0.0)),
        bundle=with_note("utf-8", b"Left breast mass excised; margins clear."),
    )


def _note_bundle() -> dict[str, Any]:
    from .fhir_inputs import with_note

    return with_note("utf-8", b"Left breast mass excised; margins clear.")


@hostile("model-fault")
def reader_answer_schema_violating(tmp: Path) -> Invocation:
    """`{"foo": 1}` from the note reader must not pass as "no findings" with the agent ok."""
    fault = (200, chat_completion('{"foo": 1}'), 0.0)
    return _model_run(tmp, _faulty("TextReading", fault), bundle=_note_bundle())


@hostile("model-fault")
def reader_answer_truncated_json(tmp: Path) -> Invocation:
    fault = (200, chat_completion('{"findings": [{"text": "Left breast'), 0.0)
    return _model_run(tmp, _faulty("TextReading", fault), bundle=_note_bundle())


def _first_call_faulty(fault: tuple[int, Any, float]) -> Any:
    good = _good()
    calls = {"n": 0}

    def respond(body: dict[str, Any]) -> tuple[int, Any, float]:
        calls["n"] += 1
        return fault if calls["n"] == 1 else good(body)

    return respond


@hostile("model-fault")
def first_response_body_not_json(tmp: Path) -> Invocation:
    """Exactly one HTTP 200 whose body is not JSON (the first call, whichever agent makes it)."""
    # retried (then nothing is degraded) or degraded visibly: both fine, losing the run is not
    return _model_run(
        tmp, _first_call_faulty((200, "not json at all", 0.0)), bundle=_note_bundle(), visible_fault=False
    )


@hostile("model-fault")
def first_response_body_truncated(tmp: Path) -> Invocation:
    body = json.dumps(chat_completion('{"answer": "x"}'))
    return _model_run(
        tmp,
        _first_call_faulty((200, body[: len(body) // 2], 0.0)),
        bundle=_note_bundle(),
        visible_fault=False,
    )


@hostile("leak")
def endpoint_error_text_echoing_the_request(tmp: Path) -> Invocation:
    fault = (400, {"error": {"message": f"bad request near '{ECHO_MARKER}'", "type": "invalid"}}, 0.0)
    return _model_run(tmp, _faulty("BoardAnswer", fault), expect=(OK, ENDPOINT), secrets=(ECHO_MARKER,))


@hostile("leak")
def endpoint_500_error_text_echoing_the_request(tmp: Path) -> Invocation:
    fault = (500, f"Internal error while processing {ECHO_MARKER}", 0.0)
    return _model_run(tmp, _faulty("BoardAnswer", fault), expect=(OK, ENDPOINT), secrets=(ECHO_MARKER,))


@hostile("leak")
def credentials_in_model_url_unreachable(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    url = closed_port_url().replace("http://", "http://alice:s3cr3t-pass@") + "?token=tok-9f8e7d"
    return Invocation(
        ["run", str(folder), "--model", url, "--out", str(tmp / "out")],
        expect=(ENDPOINT,),
        out=tmp / "out",
        env=MODEL_ENV,
        secrets=("s3cr3t-pass", "tok-9f8e7d"),
    )


@hostile("leak")
def credentials_in_model_url_written_to_summary(tmp: Path) -> Invocation:
    server = started(_good())
    url = server.base_url.replace("http://", "http://alice:s3cr3t-pass@") + "?token=tok-9f8e7d"
    return _credentials_run(tmp, server, url)


def _credentials_run(tmp: Path, server: FakeOpenAIServer, url: str) -> Invocation:
    folder = case_folder(tmp)
    out = tmp / "out"
    return Invocation(
        ["run", str(folder), "--model", url, "--out", str(out)],
        expect=(OK,),
        out=out,
        env=MODEL_ENV,
        secrets=("s3cr3t-pass", "tok-9f8e7d"),
        checks=[summary_json_valid(out)],
        resource=server,
    )


@hostile("leak")
def api_key_in_environment_never_printed(tmp: Path) -> Invocation:
    folder = case_folder(tmp)
    return Invocation(
        ["run", str(folder), "--model", closed_port_url(), "--out", str(tmp / "out")],
        expect=(ENDPOINT,),
        out=tmp / "out",
        env={**MODEL_ENV, "MEDBOARD_API_KEY": "sk-live-55aa77"},
        secrets=("sk-live-55aa77",),
    )


@hostile("leak")
def credentials_in_model_url_for_verify(tmp: Path) -> Invocation:
    from .verify_inputs import real_summary

    folder = case_folder(tmp)
    summary = tmp / "summary.json"
    summary.write_text(real_summary(), encoding="utf-8")
    url = closed_port_url().replace("http://", "http://bob:hunter2-pw@") + "?api_key=k-123abc"
    return Invocation(
        ["verify", str(summary), "--record", str(folder / "bundle.json"), "--model", url],
        expect=(ENDPOINT,),
        env=MODEL_ENV,
        secrets=("hunter2-pw", "k-123abc"),
    )
