"""CDS Hooks 2.0: discovery, patient-view cards from a real record's prefetch, the client's JWT,
412 without data, the time budget, feedback."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fake_openai import NEVER, FakeOpenAIServer, always, chat_completion
from service_support import (
    AUTH,
    ISSUER,
    JENNY,
    JENNY_ID,
    PUBLIC_URL,
    SERVICE_URL,
    CdsClient,
    check_cards_shape,
    hook_request,
    prefetch_from,
    running,
    settings,
    summary_of,
    unsigned_token,
    wait_done,
)

from medboard.llm.endpoint import DEFAULT_MODEL
from medboard.service.cds_hooks.cards import MAX_SUMMARY_CHARS, CdsResponse, clip

SERVICE = "/cds-services/medboard-patient-view"
FEEDBACK = f"{SERVICE}/feedback"
JENNY_DATA = ("Jenny", JENNY_ID, "1965-01-01", "anastrozole", "IIIC")


@pytest.fixture
def ehr(tmp_path: Path) -> CdsClient:
    return CdsClient()


def cds_settings(ehr: CdsClient, tmp_path: Path, **overrides: Any) -> Any:
    return settings(cds_issuers={ISSUER: str(ehr.write_jwks(tmp_path))}, **overrides)


def jenny_call(**extra: Any) -> dict[str, Any]:
    patient_id, prefetch = prefetch_from(JENNY)
    return hook_request(patient_id, prefetch, **extra)


def check_cards(body: dict[str, Any]) -> CdsResponse:
    check_cards_shape(body)
    return CdsResponse.model_validate(body)


# ------------------------------------------------------------------------------------ discovery


async def test_discovery_lists_the_patient_view_service_with_its_prefetch_templates() -> None:
    async with running(settings()) as (_, client):
        response = await client.get("/cds-services")
    assert response.status_code == 200
    (service,) = response.json()["services"]
    assert service["hook"] == "patient-view"
    assert service["id"] == "medboard-patient-view"
    assert service["title"] and service["description"]
    assert service["prefetch"] == {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "medications": "MedicationRequest?patient={{context.patientId}}",
        "reports": "DiagnosticReport?patient={{context.patientId}}",
    }


# ------------------------------------------------------------------------------------ cards


async def test_prefetch_of_a_real_record_gives_valid_cards_and_a_working_link(
    ehr: CdsClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    call = jenny_call(fhirServer="https://ehr.example.org/fhir")  # given, not needed: prefetch is whole
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        started = time.monotonic()
        response = await client.post(SERVICE, json=call, headers=ehr.header())
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        cards = check_cards(response.json()).cards
        link = cards[0].links[0].url if cards[0].links else ""
        state = (await client.get(link.removeprefix(PUBLIC_URL), headers=AUTH)).json()
    assert elapsed < 5
    headline = cards[0]
    assert headline.indicator == "info"
    assert headline.summary.startswith("Jenny M, 53-year-old female (born 1965-01-01), alive.")
    assert headline.summary.endswith("…") and len(headline.summary) <= MAX_SUMMARY_CHARS
    assert headline.detail is not None and "Current line: anastrozole" in headline.detail
    assert "Not a diagnostic device" in headline.detail
    conflicts = [c for c in cards[1:] if c.summary.startswith("Record conflict (stage mismatch)")]
    assert len(conflicts) == 1 and conflicts[0].indicator == "warning"
    assert (
        conflicts[0].detail is not None
        and "Observation/tnm-clinical-stage-group-jenny-m" in conflicts[0].detail
    )
    # Every card links to the full summary, registered like a POST /cases case.
    assert all(c.links and c.links[0].type == "absolute" and c.links[0].url == link for c in cards)
    assert link.startswith(f"{PUBLIC_URL}/cases/")
    assert state["status"] == "done" and summary_of(state).patient == f"Patient/{JENNY_ID}"
    assert len({c.uuid for c in cards}) == len(cards)
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "CDS patient-view answered with" in server_side
    for value in JENNY_DATA:
        assert value not in server_side


async def test_record_text_reaches_the_cards_inert(ehr: CdsClient, tmp_path: Path) -> None:
    patient_id, prefetch = prefetch_from(JENNY)
    prefetch["patient"] = copy.deepcopy(prefetch["patient"])
    prefetch["patient"]["name"] = [
        {"given": ["<img src=x onerror=alert(1)>"], "family": "[click](javascript:x)"}
    ]
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        response = await client.post(SERVICE, json=hook_request(patient_id, prefetch), headers=ehr.header())
    detail = check_cards(response.json()).cards[0].detail or ""
    assert "<img" not in detail and "&lt;img src=x onerror=alert(1)&gt;" in detail
    assert "[click](" not in detail and "\\[click\\](javascript:x)" in detail  # no link: brackets escaped


def test_summaries_are_cut_at_a_word_under_140_characters() -> None:
    text = "word " * 60
    clipped = clip(text)
    assert len(clipped) <= MAX_SUMMARY_CHARS and clipped.endswith("word…")
    assert clip("short\nline\x1b[31m") == "short line\\x1b[31m"


# ------------------------------------------------------------------------------------ no data: 412


async def test_no_prefetch_and_no_fhir_server_gets_412(ehr: CdsClient, tmp_path: Path) -> None:
    patient_id, prefetch = prefetch_from(JENNY)
    partial = {k: v for k, v in prefetch.items() if k != "observations"}
    nobody = {**prefetch, "patient": None}
    paged = copy.deepcopy(prefetch)
    paged["observations"]["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}]
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        none = await client.post(SERVICE, json=hook_request(patient_id, None), headers=ehr.header())
        some = await client.post(SERVICE, json=hook_request(patient_id, partial), headers=ehr.header())
        more = await client.post(SERVICE, json=hook_request(patient_id, paged), headers=ehr.header())
        unknown = await client.post(SERVICE, json=hook_request(patient_id, nobody), headers=ehr.header())
        # A server, but no token for it: still nothing to fetch with.
        server_only = await client.post(
            SERVICE,
            json=hook_request(patient_id, None, fhirServer="https://ehr.example.org/fhir"),
            headers=ehr.header(),
        )
    assert none.status_code == 412
    assert none.json()["detail"].startswith(
        "prefetch lacks patient, conditions, observations, medications, reports"
    )
    assert some.status_code == 412 and some.json()["detail"].startswith("prefetch lacks observations and")
    assert more.status_code == 412 and more.json()["detail"].startswith("prefetch lacks observations and")
    assert server_only.status_code == 412
    assert unknown.status_code == 412 and unknown.json()["detail"].startswith("prefetch lacks patient and")


async def test_null_prefetch_keys_mean_no_data_not_missing(ehr: CdsClient, tmp_path: Path) -> None:
    patient_id, prefetch = prefetch_from(JENNY)
    prefetch.update({"reports": None, "medications": None})
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        response = await client.post(SERVICE, json=hook_request(patient_id, prefetch), headers=ehr.header())
    assert response.status_code == 200
    assert "Current line: anastrozole" not in (check_cards(response.json()).cards[0].detail or "")


async def test_partial_prefetch_is_completed_from_the_fhir_server(ehr: CdsClient, tmp_path: Path) -> None:
    calls: list[tuple[str, str, str | None]] = []

    async def fetcher(server: str, patient: str, authorization: str | None) -> dict[str, Any]:
        calls.append((server, patient, authorization))
        return json.loads(JENNY.read_bytes())

    patient_id, prefetch = prefetch_from(JENNY)
    call = hook_request(
        patient_id,
        {"patient": prefetch["patient"]},
        fhirServer="https://ehr.example.org/fhir/",
        fhirAuthorization={
            "access_token": "some-opaque-fhir-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/Patient.read patient/Observation.read",
            "subject": "cds-service4",
        },
    )
    server_settings = cds_settings(ehr, tmp_path, fhir_servers=["https://ehr.example.org/fhir"])
    async with running(server_settings, fetcher=fetcher) as (_, client):
        response = await client.post(SERVICE, json=call, headers=ehr.header())
        elsewhere = copy.deepcopy(call)
        elsewhere["fhirServer"] = "http://10.0.0.7/fhir"
        refused = await client.post(SERVICE, json=elsewhere, headers=ehr.header())
    assert response.status_code == 200, response.text
    assert calls == [("https://ehr.example.org/fhir", JENNY_ID, "Bearer some-opaque-fhir-access-token")]
    cards = check_cards(response.json()).cards
    assert cards[0].summary.startswith("Jenny M, 53-year-old female")
    assert refused.status_code == 412 and "not on the service's allowlist" in refused.json()["detail"]


async def test_a_failing_fetch_gets_412_and_a_bad_request_422(ehr: CdsClient, tmp_path: Path) -> None:
    async def fetcher(server: str, patient: str, authorization: str | None) -> dict[str, Any]:
        raise ConnectionError("refused")

    patient_id, prefetch = prefetch_from(JENNY)
    auth = {"access_token": "tok", "token_type": "Bearer", "expires_in": 300, "scope": "x", "subject": "y"}
    other = copy.deepcopy(prefetch)
    other["patient"]["id"] = "someone-else"
    server_settings = cds_settings(ehr, tmp_path, fhir_servers=["https://ehr.example.org/fhir"])
    async with running(server_settings, fetcher=fetcher) as (_, client):
        failed = await client.post(
            SERVICE,
            json=hook_request(
                patient_id, None, fhirServer="https://ehr.example.org/fhir", fhirAuthorization=auth
            ),
            headers=ehr.header(),
        )
        no_server = await client.post(
            SERVICE, json=hook_request(patient_id, prefetch, fhirAuthorization=auth), headers=ehr.header()
        )
        wrong_hook = await client.post(
            SERVICE, json={**jenny_call(), "hook": "order-sign"}, headers=ehr.header()
        )
        not_them = await client.post(SERVICE, json=hook_request(patient_id, other), headers=ehr.header())
        broken = await client.post(
            SERVICE, content=b'{"hook": ', headers={**ehr.header(), "Content-Type": "application/json"}
        )
    assert failed.status_code == 412
    assert failed.json()["detail"] == "the record could not be fetched from fhirServer: ConnectionError"
    assert no_server.status_code == 422
    assert no_server.json()["detail"] == "request body: fhirAuthorization is given without fhirServer"
    assert wrong_hook.status_code == 422 and wrong_hook.json()["detail"].startswith("request body: hook: ")
    assert not_them.status_code == 422
    assert not_them.json()["detail"] == "prefetch.patient: the prefetched Patient is not context.patientId"
    assert broken.status_code == 400


# ------------------------------------------------------------------------------------ the client JWT


async def test_only_a_valid_client_jwt_is_admitted(ehr: CdsClient, tmp_path: Path) -> None:
    forger = CdsClient(kid=ehr.kid)  # another key under the same kid
    stranger = CdsClient(issuer="https://evil.example.org/")
    now = int(time.time())
    replayed = ehr.token()
    refused: dict[str, dict[str, str]] = {
        "no header": {},
        "not bearer": {"Authorization": f"Basic {ehr.token()}"},
        "not a JWT": {"Authorization": "Bearer not-a-jwt"},
        "forged": forger.header(),
        "issuer not allowed": stranger.header(stranger.token()),
        "expired": ehr.header(ehr.token(exp=now - 120, iat=now - 420)),
        "wrong audience": ehr.header(ehr.token(audience=f"{PUBLIC_URL}/cds-services/other-service")),
        "discovery audience": ehr.header(ehr.token(audience=f"{PUBLIC_URL}/cds-services")),
        "audience with slash": ehr.header(ehr.token(audience=SERVICE_URL + "/")),
        "no jti": ehr.header(ehr.token(jti=None)),
        "no exp": ehr.header(ehr.token(exp=None)),
        "no iat": ehr.header(ehr.token(iat=None)),
        "exp far ahead": ehr.header(ehr.token(exp=now + 24 * 3600)),
        "unknown kid": ehr.header(ehr.token(headers={"kid": "other-kid"})),
        "alg none": ehr.header(unsigned_token({"alg": "none", "typ": "JWT", "kid": ehr.kid}, ehr.claims())),
        "HS256 with the public key": ehr.header(
            unsigned_token(
                {"alg": "HS256", "typ": "JWT", "kid": ehr.kid}, ehr.claims(), hmac_key=ehr.public_pem()
            )
        ),
        "replayed": ehr.header(replayed),
    }
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        first = await client.post(SERVICE, json=jenny_call(), headers=ehr.header(replayed))
        assert first.status_code == 200, first.text
        answers = {
            name: await client.post(SERVICE, json=jenny_call(), headers=h) for name, h in refused.items()
        }
        # A list audience holding the service URL is the spec's other form.
        listed = await client.post(
            SERVICE, json=jenny_call(), headers=ehr.header(ehr.token(audience=[SERVICE_URL]))
        )
    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json() == {"detail": "invalid token"}, name
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert listed.status_code == 200


async def test_rs384_keys_from_a_jwks_url(tmp_path: Path) -> None:
    """RS384 under a JWK that names no algorithm (pyjwt alone would read it as RS256), served by URL."""
    ehr = CdsClient(alg="RS384", kid="rsa-1", jwk_alg=False)
    served = json.dumps(ehr.jwks).encode()
    fetched = threading.Event()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.set()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(served)))
            self.end_headers()
            self.wfile.write(served)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        jwks_url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
        async with running(settings(cds_issuers={ISSUER: jwks_url})) as (_, client):
            ok = await client.post(SERVICE, json=jenny_call(), headers=ehr.header())
            as_rs256 = CdsClient(alg="RS256", kid="rsa-1")
            as_rs256.private_key = ehr.private_key
            downgraded = await client.post(SERVICE, json=jenny_call(), headers=as_rs256.header())
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert fetched.is_set()
    assert ok.status_code == 200, ok.text
    # RS256 is on the default list, and the JWK names no algorithm: the header's is taken.
    assert downgraded.status_code == 200


async def test_an_algorithm_off_the_list_is_refused(ehr: CdsClient, tmp_path: Path) -> None:
    async with running(cds_settings(ehr, tmp_path, cds_algorithms=["RS384"])) as (_, client):
        response = await client.post(SERVICE, json=jenny_call(), headers=ehr.header())  # ES384
    assert response.status_code == 401


async def test_feedback_is_accepted_with_the_jwt_and_logged_without_comments(
    ehr: CdsClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    comment = "Jenny M's stage was fixed by Dr Zolgensmarker"
    feedback = {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "d7ecf885", "system": "https://example.com/r"},
                    "userComment": comment,
                },
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
        ]
    }
    async with running(cds_settings(ehr, tmp_path)) as (_, client):
        ok = await client.post(
            FEEDBACK, json=feedback, headers=ehr.header(ehr.token(audience=f"{SERVICE_URL}/feedback"))
        )
        as_service = await client.post(FEEDBACK, json=feedback, headers=ehr.header())
        anonymous = await client.post(FEEDBACK, json=feedback)
        bad = await client.post(FEEDBACK, json={"feedback": [{"card": "x"}]}, headers=ehr.header())
    assert ok.status_code == 200 and ok.json() == {}
    assert as_service.status_code == 200
    assert anonymous.status_code == 401
    assert bad.status_code == 422 and bad.json()["detail"].startswith("request body: feedback.0.outcome: ")
    assert "CDS feedback: 1 accepted, 1 overridden" in caplog.text
    assert "Zolgensmarker" not in caplog.text and "Jenny" not in caplog.text


# ------------------------------------------------------------------------------------ time budget


async def test_when_the_budget_runs_out_the_cards_say_so_and_come_from_the_picture(
    ehr: CdsClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that never answers: the verified summary cannot be ready in 1.5 s. The answer
    comes in time anyway — the picture's conflict and a card saying the summary is on its way —
    and the link leads to the summary once the case's own run budget has ended."""
    monkeypatch.delenv("MEDBOARD_MODEL", raising=False)
    with FakeOpenAIServer(
        always(200, chat_completion('{"findings": []}'), delay=NEVER), models=[DEFAULT_MODEL]
    ) as model:
        server_settings = cds_settings(
            ehr, tmp_path, model=model.base_url, cds_budget_s=1.5, run_budget_s=2.0
        )
        async with running(server_settings) as (_, client):
            started = time.monotonic()
            response = await client.post(SERVICE, json=jenny_call(), headers=ehr.header())
            elapsed = time.monotonic() - started
            cards = check_cards(response.json()).cards
            link = cards[0].links[0].url if cards[0].links else ""
            pending = (await client.get(link.removeprefix(PUBLIC_URL), headers=AUTH)).json()
            state = await wait_done(client, link.rsplit("/", 1)[1], timeout=60)
    assert response.status_code == 200
    assert elapsed < 1.5 + 0.5, f"answered after {elapsed:.2f} s"
    assert cards[0].summary == "medboard: the full summary is still being prepared"
    assert cards[0].detail is not None and "not yet checked by the verifier" in cards[0].detail
    assert [c.summary.split(":")[0] for c in cards[1:]] == ["Record conflict (stage mismatch)"]
    assert pending["status"] in ("queued", "running")
    assert state["status"] == "done"
    assert any("run time budget of 2 s used up" in w for w in summary_of(state).run.warnings)


async def test_a_full_queue_still_answers_from_the_prefetch(ehr: CdsClient, tmp_path: Path) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def stuck(case: Any) -> Any:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(release.wait(), loop))
        raise RuntimeError("released")

    async with running(cds_settings(ehr, tmp_path, queue_size=1, cds_budget_s=0.5), runner=stuck) as (
        _,
        client,
    ):
        first = await client.post(SERVICE, json=jenny_call(), headers=ehr.header())
        busy = await client.post(SERVICE, json=jenny_call(), headers=ehr.header())
        release.set()
    assert check_cards(first.json()).cards[0].summary == "medboard: the full summary is still being prepared"
    cards = check_cards(busy.json()).cards
    assert cards[0].summary == "medboard: the service is busy: the full summary was not started"
    assert cards[0].links is None
    assert len(cards) == 2  # and the stage conflict, from the picture
