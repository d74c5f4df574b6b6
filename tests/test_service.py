"""The HTTP service: auth, bodies, cases end to end on real records, concurrency, logs, `medboard serve`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_support import (
    AUTH,
    FHIR_JSON,
    JENNY,
    JENNY_ID,
    OTHER_TOKEN,
    SYNTHEA,
    TOKEN,
    UvicornThread,
    free_port,
    running,
    settings,
    summary_of,
    wait_done,
)

from medboard.cli.main import main
from medboard.cli.serve import INSTALL_HINT
from medboard.errors import MedboardInputError
from medboard.service.app import create_app
from medboard.service.logs import PathOnly
from medboard.service.settings import ServiceSettings

JENNY_BYTES = JENNY.read_bytes()
#: Values of the Jenny M record that must never reach a log line.
JENNY_DATA = ("Jenny", "cancer-patient-jenny-m", "1965-01-01", "anastrozole", "IIIC")


# ------------------------------------------------------------------------------------ auth


async def test_missing_malformed_or_wrong_tokens_get_401_with_www_authenticate() -> None:
    async with running(settings()) as (_, client):
        attempts: list[dict[str, str]] = [
            {},
            {"Authorization": TOKEN},  # no scheme
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN[:-1]}x"},  # one character off
            {"Authorization": f"Bearer {TOKEN}{TOKEN}"},
            {"Authorization": "Bearer ünïcode-token-not-ascii".encode()},  # type: ignore[dict-item]
        ]
        for headers in attempts:
            for response in (
                await client.post("/cases", content=JENNY_BYTES, headers={**FHIR_JSON, **headers}),
                await client.get("/cases/0123", headers=headers),
            ):
                assert response.status_code == 401, (headers, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.json() == {"detail": "missing or invalid API token"}
        # Each configured token is accepted (comma-separated in MEDBOARD_API_TOKEN).
        for token in (TOKEN, OTHER_TOKEN):
            response = await client.get("/cases/0123", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 404


async def test_discovery_health_and_openapi_need_no_token() -> None:
    async with running(settings()) as (_, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/cds-services")).status_code == 200
        assert (await client.get("/docs")).status_code == 200
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"/cases", "/cases/{case_id}", "/cds-services", "/cds-services/medboard-patient-view"} <= set(
        paths
    )
    # Response models are published: the 202 body, the case state with the CaseSummary, the errors.
    schemas = spec["components"]["schemas"]
    assert {
        "CaseAccepted",
        "CaseState",
        "CaseSummary",
        "ErrorBody",
        "FhirServerCase",
        "CdsRequest",
        "Card",
    } <= set(schemas)
    assert paths["/cases/{case_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CaseState"
    }
    assert paths["/cases"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "application/fhir+json" in paths["/cases"]["post"]["requestBody"]["content"]


def test_settings_refuse_to_serve_unauthenticated_by_accident() -> None:
    with pytest.raises(MedboardInputError, match="no API token configured: set MEDBOARD_API_TOKEN"):
        ServiceSettings.resolve({}, env={}).require_auth()
    ServiceSettings.resolve({"insecure_no_auth": True}, env={}).require_auth()  # loopback: allowed
    with pytest.raises(MedboardInputError, match="only on a loopback host"):
        ServiceSettings.resolve({"insecure_no_auth": True, "host": "0.0.0.0"}, env={})
    with pytest.raises(MedboardInputError, match="exclude each other"):
        ServiceSettings.resolve({"insecure_no_auth": True}, env={"MEDBOARD_API_TOKEN": TOKEN})
    # A weak token is refused, and the message never shows it.
    with pytest.raises(MedboardInputError) as info:
        ServiceSettings.resolve({}, env={"MEDBOARD_API_TOKEN": f"{TOKEN},short-secret"})
    assert "at least 16 characters" in str(info.value) and "short-secret" not in str(info.value)
    assert "environment variable MEDBOARD_API_TOKEN" in str(info.value)
    parsed = ServiceSettings.resolve({}, env={"MEDBOARD_API_TOKEN": f" {TOKEN} , {OTHER_TOKEN} "})
    assert [t.get_secret_value() for t in parsed.api_tokens] == [TOKEN, OTHER_TOKEN]
    with pytest.raises(MedboardInputError, match="none` and HMAC never"):
        ServiceSettings.resolve({}, env={"MEDBOARD_CDS_ALGORITHMS": "RS384,HS256"})


# ------------------------------------------------------------------------------------ bodies


async def test_invalid_json_gets_400_with_line_and_column() -> None:
    async with running(settings()) as (_, client):
        broken = await client.post(
            "/cases", content=b'{"resourceType": "Bundle",\n "entry": [}', headers={**AUTH, **FHIR_JSON}
        )
        empty = await client.post("/cases", content=b"  ", headers={**AUTH, **FHIR_JSON})
        deep = await client.post("/cases", content=b"[" * 5000 + b"]" * 5000, headers={**AUTH, **FHIR_JSON})
        not_json = await client.post(
            "/cases", content=b"<Bundle/>", headers={**AUTH, "Content-Type": "application/xml"}
        )
    assert broken.status_code == 400
    assert broken.json() == {"detail": "invalid JSON at line 2, column 12: Expecting value"}
    assert empty.status_code == 400 and "empty request body" in empty.json()["detail"]
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["detail"]
    assert not_json.status_code == 415


async def test_invalid_bundle_gets_422_with_one_line_that_quotes_no_value() -> None:
    secret = "Zolgensmarker-1977"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": secret}]}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "valueQuantity": {"value": 3},
                    "code": {"text": secret},
                    "subject": {"reference": "Patient/p1"},
                    "effectiveDateTime": secret,
                }
            },
        ],
    }
    async with running(settings()) as (_, client):
        response = await client.post("/cases", json=bundle, headers=AUTH)
        unknown = await client.post("/cases", json={"resourceType": "Nonsense"}, headers=AUTH)
        duplicate = await client.post(
            "/cases",
            content=b'{"resourceType": "Patient", "id": "a", "gender": "male", "gender": "female"}',
            headers={**AUTH, **FHIR_JSON},
        )
        array = await client.post("/cases", json=[1, 2], headers=AUTH)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("request body: entry[1] (Observation/o1): invalid Observation: ")
    assert "\n" not in detail and secret not in detail
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith(
        "request body: resource: unknown resourceType 'Nonsense'"
    )
    assert duplicate.status_code == 422 and "duplicate JSON key" in duplicate.json()["detail"]
    assert "male" not in duplicate.json()["detail"]
    assert array.status_code == 422


async def test_invalid_case_request_and_query_get_422_one_line() -> None:
    async with running(settings(fhir_servers=["https://fhir.example.org/r4"])) as (_, client):
        bad_id = await client.post(
            "/cases", json={"fhir_server": "https://fhir.example.org/r4", "patient": "a b"}, headers=AUTH
        )
        extra = await client.post(
            "/cases",
            json={"fhir_server": "https://fhir.example.org/r4", "patient": "p", "x": 1},
            headers=AUTH,
        )
        elsewhere = await client.post(
            "/cases", json={"fhir_server": "http://169.254.169.254/latest", "patient": "p"}, headers=AUTH
        )
        bad_date = await client.post(
            "/cases?case_date=2024-02-30", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON}
        )
    assert bad_id.json() == {
        "detail": "request body: patient: must be a FHIR id (1-64 letters, digits, '-' or '.')"
    }
    assert (
        extra.status_code == 422
        and extra.json()["detail"] == "request body: x: Extra inputs are not permitted"
    )
    assert elsewhere.status_code == 422 and "not on the service's allowlist" in elsewhere.json()["detail"]
    assert bad_date.status_code == 422 and bad_date.json()["detail"].startswith(
        "case_date: not a valid ISO date"
    )


# ------------------------------------------------------------------------------------ cases


async def test_jenny_m_bundle_is_accepted_then_summarized(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    question = "Is she a candidate for breast-conserving surgery?"
    async with running(settings()) as (_, client):
        response = await client.post(
            "/cases", params={"question": question}, content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON}
        )
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["status"] == "queued" and len(accepted["id"]) == 32
        state = await wait_done(client, accepted["id"])
    assert state["status"] == "done", state
    summary = summary_of(state)
    assert set(state) == {"id", "status", "summary"}
    assert state["summary"] == json.loads(summary.model_dump_json()), "the summary.json contract, nulls kept"
    assert summary.patient == f"Patient/{JENNY_ID}"
    assert summary.question == question
    assert summary.case_id == accepted["id"]
    headline = summary.section("headline")
    assert headline is not None and headline.statements[0].text.startswith("Jenny M, 53-year-old female")
    assert any(d.kind == "stage_mismatch" for d in summary.discrepancies)
    assert all(s.verdict is not None for s in summary.statements())
    # The log has the case's own id and its states, and nothing of the patient.
    assert f"case {accepted['id']} done" in caplog.text
    for value in (*JENNY_DATA, question):
        assert value not in caplog.text


async def test_largest_synthea_record_runs_through_the_service() -> None:
    largest = max(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size)
    async with running(settings()) as (_, client):
        response = await client.post("/cases", content=largest.read_bytes(), headers={**AUTH, **FHIR_JSON})
        assert response.status_code == 202
        state = await wait_done(client, response.json()["id"], timeout=120)
    assert state["status"] == "done"
    assert summary_of(state).statements()


async def test_a_patient_on_a_fhir_server_is_pulled_through_the_fetcher() -> None:
    calls: list[tuple[str, str, str | None]] = []

    async def fetcher(server: str, patient: str, authorization: str | None) -> dict[str, Any]:
        calls.append((server, patient, authorization))
        await asyncio.sleep(0.01)
        return json.loads(JENNY_BYTES)

    server = "https://fhir.example.org/r4"
    async with running(settings(fhir_servers=[server]), fetcher=fetcher) as (_, client):
        response = await client.post(
            "/cases",
            json={
                "fhir_server": server + "/",
                "patient": f"Patient/{JENNY_ID}",
                "question": "Stage?",
                "case_date": "2019-01-01",
                "access_token": "fhir-access-token-1",
            },
            headers=AUTH,
        )
        assert response.status_code == 202
        state = await wait_done(client, response.json()["id"])
        anonymous = await client.post(
            "/cases", json={"fhir_server": server, "patient": JENNY_ID}, headers=AUTH
        )
        await wait_done(client, anonymous.json()["id"])
    assert calls == [(server, JENNY_ID, "Bearer fhir-access-token-1"), (server, JENNY_ID, None)]
    summary = summary_of(state)
    assert summary.patient == f"Patient/{JENNY_ID}" and summary.question == "Stage?"
    assert "fhir-access-token-1" not in json.dumps(state)


async def test_a_failing_pull_fails_the_case_with_one_line() -> None:
    async def fetcher(server: str, patient: str, authorization: str | None) -> dict[str, Any]:
        raise MedboardInputError("no such patient on the server", source="FHIR server", location="Patient/p9")

    server = "https://fhir.example.org/r4"
    async with running(settings(fhir_servers=[server]), fetcher=fetcher) as (_, client):
        response = await client.post("/cases", json={"fhir_server": server, "patient": "p9"}, headers=AUTH)
        state = await wait_done(client, response.json()["id"])
    assert state == {
        "id": response.json()["id"],
        "status": "failed",
        "error": "FHIR server: Patient/p9: no such patient on the server",
    }


class GatedRunner:
    """A case runner that holds every case until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.real: Any = None

    async def __call__(self, case: Any) -> Any:
        from medboard.orchestrator.flow import run_case_flow

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            return await run_case_flow(case)
        finally:
            with self.lock:
                self.running -= 1


async def test_cases_run_with_bounded_concurrency_and_a_bounded_queue() -> None:
    runner = GatedRunner()
    async with running(settings(concurrency=2, queue_size=4), runner=runner) as (_, client):
        ids = []
        for _ in range(3):
            response = await client.post("/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON})
            assert response.status_code == 202
            ids.append(response.json()["id"])
        for _ in range(200):
            states = [(await client.get(f"/cases/{i}", headers=AUTH)).json()["status"] for i in ids]
            if states.count("running") == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(states) == ["queued", "running", "running"]
        assert runner.running == 2
        # The queue holds 4 (queued + running): the 4th is accepted, the 5th refused with 503.
        assert (
            await client.post("/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON})
        ).status_code == 202
        busy = await client.post("/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        runner.release.set()
        finals = [await wait_done(client, i) for i in ids]
    assert [f["status"] for f in finals] == ["done"] * 3
    assert runner.most == 2


async def test_the_store_keeps_the_newest_cases() -> None:
    async with running(settings(max_cases=2)) as (_, client):
        ids = []
        for _ in range(3):
            response = await client.post("/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON})
            ids.append(response.json()["id"])
            await wait_done(client, ids[-1])
        assert (await client.get(f"/cases/{ids[0]}", headers=AUTH)).status_code == 404
        assert (await client.get(f"/cases/{ids[2]}", headers=AUTH)).json()["status"] == "done"


# ------------------------------------------------------------------------------------ body cap


async def test_declared_too_large_body_gets_413_in_process() -> None:
    async with running(settings(max_body_bytes=100_000)) as (_, client):
        response = await client.post("/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON})
    assert len(JENNY_BYTES) > 100_000
    assert response.status_code == 413
    assert response.json()["detail"].startswith(f"request body too large (declared {len(JENNY_BYTES)} bytes")


def _http_head(port: int, headers: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/fhir+json\r\n{headers}\r\n".encode()
    )
    return sock


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    with sock:
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_over_the_cap_bodies_get_413_without_being_read_whole() -> None:
    cap = 64 * 1024
    app = create_app(settings(max_body_bytes=cap))
    with UvicornThread(app) as server:
        # Declared 10 GB, nothing sent: answered at once from the header.
        sock = _http_head(server.port, "Content-Length: 10000000000\r\n")
        started = time.monotonic()
        answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - started < 5
        # Chunked, no length: streamed 8 KB at a time; the answer comes once the cap is passed,
        # and the client is cut off long before the 50 MB it meant to send.
        sock = _http_head(server.port, "Transfer-Encoding: chunked\r\n")
        sent = 0
        chunk = b"x" * 8192
        answer = b""
        try:
            while sent < 50 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                sock.settimeout(0.001)
                try:
                    answer = sock.recv(65536)
                except (TimeoutError, BlockingIOError):
                    continue
                finally:
                    sock.settimeout(10)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer += _read_response(sock) if not answer.rstrip().endswith(b"}") else b""
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"more than 65536 bytes sent" in answer
        assert sent < 2 * 1024 * 1024, f"sent {sent} bytes before the refusal"
        # The service still answers normally afterwards.
        assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_access_log_shows_paths_without_query_strings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings())
    logging.getLogger("uvicorn.access").addFilter(PathOnly())
    try:
        with UvicornThread(app, access_log=True) as server:
            httpx.get(f"{server.url}/cases/abc123?patient={JENNY_ID}&question=Jenny", headers=AUTH)
            httpx.post(
                f"{server.url}/cases?question=Jenny+M+stage",
                content=JENNY_BYTES,
                headers={**AUTH, **FHIR_JSON},
            )
    finally:
        for f in [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, PathOnly)]:
            logging.getLogger("uvicorn.access").removeFilter(f)
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any('"GET /cases/abc123 HTTP/1.1" 404' in line for line in access), access
    assert any('"POST /cases HTTP/1.1" 202' in line for line in access), access
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for value in JENNY_DATA:
        assert value not in server_side


# ------------------------------------------------------------------------------------ the command


def test_serve_without_the_server_extra_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what `import fastapi` meets when it is absent
    monkeypatch.setenv("MEDBOARD_API_TOKEN", TOKEN)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"medboard: error: {INSTALL_HINT}"
    assert err.endswith("pip install 'medboard[server]'")


def test_serve_refuses_to_start_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDBOARD_API_TOKEN", raising=False)
    assert main(["serve", "--port", str(free_port())]) == 2
    assert "no API token configured: set MEDBOARD_API_TOKEN" in capsys.readouterr().err
    assert main(["serve", "--insecure-no-auth", "--host", "0.0.0.0"]) == 2
    assert "only on a loopback host" in capsys.readouterr().err


def test_medboard_serve_binds_127_0_0_1_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDBOARD_")}
    env["MEDBOARD_API_TOKEN"] = TOKEN
    medboard = Path(sys.executable).with_name("medboard")
    process = subprocess.Popen(
        [str(medboard), "serve", "--port", str(port), "--model", "none"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "medboard serve did not come up"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/cases/x", timeout=5).status_code == 401
        response = httpx.post(
            f"http://127.0.0.1:{port}/cases", content=JENNY_BYTES, headers={**AUTH, **FHIR_JSON}, timeout=10
        )
        assert response.status_code == 202
        for _ in range(300):
            state = httpx.get(f"http://127.0.0.1:{port}/cases/{response.json()['id']}", headers=AUTH).json()
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert state["status"] == "done"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught (a shell shows 143).
    assert process.returncode in (0, -15, 143), output
    assert "Application shutdown complete." in output
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
    assert "GET /healthz HTTP/1.1" in output
    for value in JENNY_DATA:
        assert value not in output
