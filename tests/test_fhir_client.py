"""The FHIR client (issue 12, part 1): its policies, then the real thing against a FHIR server.

Policies (backoff, Retry-After, the size cap, paging rules, token caching and refresh, the SMART
assertion's claims) are driven with `httpx.MockTransport`: it is the only way to see exactly
what was sent and how long the client slept. Everything else runs against the test FHIR server
(medplum's fhir-router, tests/medplum_server.py) loaded with the shared Synthea and mCODE
bundles: both pull strategies, paging, bearer and SMART auth, and every server fault.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from medboard.errors import MedboardInputError
from medboard.limits import limits
from medboard.tools.fhir import load_record
from medboard.tools.fhir_server import (
    BearerToken,
    FhirAuthError,
    FhirClient,
    FhirNotFound,
    FhirRateLimited,
    FhirResponseError,
    FhirServerError,
    FhirServerUnavailable,
    SmartBackendAuth,
    compartment_types,
    public_jwks,
    pull_patient,
)

BASE = "http://fhir.test/fhir/R4"
TOKEN_URL = "http://auth.test/token"
CLIENT_ID = "medboard-test-client"


# --------------------------------------------------------------------------------- helpers


def fhir_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/fhir+json", **(headers or {})},
    )


def searchset(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
CAPABILITIES = {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance", "rest": []}


class Recorder:
    """A MockTransport handler that answers from a script and remembers every request."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


class Sleeps:
    """The client's sleep, recorded instead of slept."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], **options: Any
) -> tuple[FhirClient, Sleeps]:
    sleeps = Sleeps()
    options.setdefault("backoff_s", 0.5)
    return FhirClient(BASE, transport=httpx.MockTransport(handler), sleep=sleeps, **options), sleeps


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ec_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --------------------------------------------------------------------------------- retries


async def test_backoff_is_exponential_with_full_jitter_then_succeeds() -> None:
    handler = Recorder(
        fhir_json(OUTCOME, 503), fhir_json(OUTCOME, 502), fhir_json(OUTCOME, 500), fhir_json(CAPABILITIES)
    )
    client, sleeps = client_for(handler, max_retries=3, backoff_s=0.5)
    async with client:
        statement = await client.capabilities()
    assert statement["resourceType"] == "CapabilityStatement"
    assert client.requests == 4 and len(handler.requests) == 4
    assert len(sleeps.calls) == 3
    for attempt, slept in enumerate(sleeps.calls, start=1):
        assert 0 <= slept <= 0.5 * 2 ** (attempt - 1)  # full jitter: uniform in [0, backoff × 2^(n-1)]


async def test_jitter_spreads_the_waits() -> None:
    """Full jitter: clients failing together do not retry together (the waits differ)."""
    waits = []
    for _ in range(8):
        client, sleeps = client_for(Recorder(fhir_json(OUTCOME, 503), fhir_json(CAPABILITIES)), backoff_s=1.0)
        async with client:
            await client.capabilities()
        waits.extend(sleeps.calls)
    assert len(set(waits)) == len(waits) == 8


async def test_retry_after_in_seconds_is_waited_exactly() -> None:
    handler = Recorder(fhir_json(OUTCOME, 429, {"Retry-After": "2"}), fhir_json(CAPABILITIES))
    client, sleeps = client_for(handler)
    async with client:
        await client.capabilities()
    assert sleeps.calls == [2.0]


async def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    handler = Recorder(fhir_json(OUTCOME, 503, {"Retry-After": when}), fhir_json(CAPABILITIES))
    client, sleeps = client_for(handler)
    async with client:
        await client.capabilities()
    assert len(sleeps.calls) == 1 and 3.0 <= sleeps.calls[0] <= 5.0


async def test_retry_after_over_the_cap_fails_at_once() -> None:
    handler = Recorder(fhir_json(OUTCOME, 429, {"Retry-After": "3600"}))
    client, sleeps = client_for(handler, max_retry_after_s=60)
    async with client:
        with pytest.raises(FhirRateLimited) as info:
            await client.capabilities()
    assert sleeps.calls == [] and len(handler.requests) == 1
    assert "3600 s" in str(info.value) and info.value.exit_code == 3


async def test_429_exhausted_names_the_attempts() -> None:
    handler = Recorder(fhir_json(OUTCOME, 429, {"Retry-After": "1"}))
    client, sleeps = client_for(handler, max_retries=2)
    async with client:
        with pytest.raises(FhirRateLimited) as info:
            await client.capabilities()
    assert sleeps.calls == [1.0, 1.0] and len(handler.requests) == 3
    assert (
        str(info.value)
        == f"FHIR server {BASE}: GET metadata: HTTP 429 Too Many Requests (exception) after 3 attempts"
    )


async def test_connection_refused_is_retried_then_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed", request=request)

    client, sleeps = client_for(refuse, max_retries=2)
    async with client:
        with pytest.raises(FhirServerUnavailable) as info:
            await client.read("Patient", "p1")
    assert len(sleeps.calls) == 2 and client.requests == 3
    assert info.value.exit_code == 3 and "after 3 attempts" in str(info.value)


async def test_a_transaction_is_not_resent_after_a_500_but_is_after_a_503() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    answer = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
    failing = Recorder(fhir_json(OUTCOME, 500))
    client, _ = client_for(failing)
    async with client:
        with pytest.raises(FhirServerUnavailable):
            await client.transaction(bundle)
    assert len(failing.requests) == 1  # the server may have applied it: never sent twice

    busy = Recorder(fhir_json(OUTCOME, 503, {"Retry-After": "1"}), fhir_json(answer))
    client, sleeps = client_for(busy)
    async with client:
        assert (await client.transaction(bundle))["type"] == "transaction-response"
    assert len(busy.requests) == 2 and sleeps.calls == [1.0]
    assert busy.requests[0].headers["content-type"] == "application/fhir+json"
    assert busy.requests[0].method == "POST" and str(busy.requests[0].url) == BASE


async def test_every_request_asks_for_fhir_json() -> None:
    handler = Recorder(fhir_json({"resourceType": "Patient", "id": "p1"}))
    client, _ = client_for(handler)
    async with client:
        await client.read("Patient", "p1")
    assert handler.requests[0].headers["accept"] == "application/fhir+json"


async def test_ids_are_checked_before_they_reach_a_url() -> None:
    client, _ = client_for(Recorder(fhir_json(CAPABILITIES)))
    async with client:
        for bad in ("../metadata", "a/b", "", "x" * 65):
            with pytest.raises(MedboardInputError):
                await client.read("Patient", bad)
        with pytest.raises(MedboardInputError):
            await client.search("observation", {})
    assert client.requests == 0


# --------------------------------------------------------------------------------- size cap


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("MEDBOARD_MAX_RESPONSE_BYTES", "65536")
    limits.cache_clear()
    yield 65536
    monkeypatch.delenv("MEDBOARD_MAX_RESPONSE_BYTES")
    limits.cache_clear()


class Endless(httpx.AsyncByteStream):
    """A body that never ends; counts the chunks anyone read from it."""

    def __init__(self) -> None:
        self.chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Bundle", "type": "searchset", "entry": ['
        while True:
            self.chunks += 1
            yield b'{"resource": {"resourceType": "Observation"}},' * 200  # ~9 kB


async def test_a_body_over_the_cap_is_never_read_whole(small_cap: int) -> None:
    stream = Endless()
    handler = Recorder(httpx.Response(200, headers={"content-type": "application/fhir+json"}, stream=stream))
    client, _ = client_for(handler)
    async with client:
        with pytest.raises(FhirResponseError) as info:
            await client.search("Observation", {"patient": "Patient/p1"})
    assert stream.chunks <= small_cap // 9000 + 2  # stopped at the cap, not at the (absent) end
    assert "max_response_bytes=65536" in str(info.value) and "MEDBOARD_MAX_RESPONSE_BYTES" in str(info.value)
    assert info.value.exit_code == 2


async def test_a_declared_length_over_the_cap_is_refused_unread(small_cap: int) -> None:
    stream = Endless()
    response = httpx.Response(
        200, headers={"content-type": "application/fhir+json", "content-length": str(10**9)}, stream=stream
    )
    client, _ = client_for(Recorder(response))
    async with client:
        with pytest.raises(FhirResponseError, match="declares 1000000000 bytes"):
            await client.read("Patient", "p1")
    assert stream.chunks == 0


# --------------------------------------------------------------------------------- bodies and paging


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (
            httpx.Response(200, content=b"<html>login</html>", headers={"content-type": "text/html"}),
            "answered text/html",
        ),
        (
            httpx.Response(
                200,
                content=b'{"resourceType": "Bundle", "type": "sea',
                headers={"content-type": "application/fhir+json"},
            ),
            "not JSON",
        ),
        (
            fhir_json({"resourceType": "Bundle", "type": "collection"}),
            "a Bundle of type 'collection', not a searchset",
        ),
        (fhir_json({"resourceType": "OperationOutcome"}), "'OperationOutcome', not a searchset"),
        (
            fhir_json({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": "x"}]}),
            "entry[0] holds no resource",
        ),
        (
            httpx.Response(
                200,
                content=b'{"resourceType": "Bundle", "resourceType": "Bundle", "type": "searchset"}',
                headers={"content-type": "application/fhir+json"},
            ),
            "repeats the JSON key",
        ),
    ],
)
async def test_a_malformed_searchset_is_one_clear_error(response: httpx.Response, problem: str) -> None:
    client, _ = client_for(Recorder(response))
    async with client:
        with pytest.raises(FhirResponseError) as info:
            await client.search("Observation", {"patient": "Patient/p1", "code": "secret-code"})
    message = str(info.value)
    assert problem in message and "\n" not in message and info.value.exit_code == 2
    assert message.startswith(f"FHIR server {BASE}: GET Observation?patient=Patient/p1&code=***: ")
    assert "secret-code" not in message  # query values other than the patient reference are hidden


async def test_search_follows_next_links_and_skips_outcome_entries() -> None:
    pages = {
        "": searchset(
            [{"resourceType": "Observation", "id": "o1"}], f"{BASE}/Observation?_getpages=abc&page=2"
        ),
        "2": searchset([{"resourceType": "Observation", "id": "o2"}], "Observation?_getpages=abc&page=3"),
        "3": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"resource": {"resourceType": "Observation", "id": "o3"}, "search": {"mode": "match"}},
                {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
            ],
        },
    }
    handler = Recorder(lambda request: fhir_json(pages[request.url.params.get("page", "")]))
    client, _ = client_for(handler)
    async with client:
        found = await client.search("Observation", {"patient": "Patient/p1", "_count": "1"})
    assert [r["id"] for r in found] == ["o1", "o2", "o3"]
    assert [r.url.params.get("page") for r in handler.requests] == [None, "2", "3"]


async def test_a_next_link_to_another_server_is_not_followed() -> None:
    handler = Recorder(fhir_json(searchset([], "https://evil.test/fhir/R4/Observation?page=2")))
    client, _ = client_for(handler, auth=BearerToken("secret-token"))
    async with client:
        with pytest.raises(FhirResponseError, match="points outside the server"):
            await client.search("Observation", {"patient": "Patient/p1"})
    assert [r.url.host for r in handler.requests] == ["fhir.test"]  # the token never left


async def test_a_paging_loop_stops() -> None:
    handler = Recorder(
        fhir_json(searchset([{"resourceType": "Observation", "id": "o1"}], f"{BASE}/Observation?page=1"))
    )
    client, _ = client_for(handler)
    async with client:
        with pytest.raises(FhirResponseError, match="paging loops"):
            await client.search("Observation", {"page": "1"})
    assert len(handler.requests) == 1


async def test_error_statuses_map_to_the_hierarchy() -> None:
    cases = [
        (401, FhirAuthError, 3),
        (403, FhirAuthError, 3),
        (404, FhirNotFound, 2),
        (400, FhirServerError, 3),
    ]
    for status, kind, code in cases:
        client, _ = client_for(Recorder(fhir_json(OUTCOME, status)))
        async with client:
            with pytest.raises(kind) as info:
                await client.read("Patient", "p1")
        assert info.value.exit_code == code, status
        assert f"GET Patient/p1: HTTP {status}" in str(info.value)


# --------------------------------------------------------------------------------- SMART auth


def plain_fhir(request: httpx.Request) -> httpx.Response:
    """``/metadata`` and ``Patient/{id}`` reads."""
    if request.url.path.endswith("/metadata"):
        return fhir_json(CAPABILITIES)
    return fhir_json({"resourceType": "Patient", "id": request.url.path.rsplit("/", 1)[-1]})


class TokenEndpoint:
    """A token endpoint that decodes every assertion it gets, and a FHIR server behind it."""

    def __init__(
        self,
        public_key: Any,
        alg: str,
        *,
        expires_in: int = 300,
        fhir: Callable[[httpx.Request], httpx.Response] | None = None,
    ) -> None:
        self.public_key = public_key
        self.alg = alg
        self.expires_in = expires_in
        self.assertions: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.forms: list[dict[str, str]] = []
        self.issued: list[str] = []
        self.fhir_requests: list[httpx.Request] = []
        self.fhir = fhir or plain_fhir

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            form = dict(httpx.QueryParams(request.content.decode()))
            self.forms.append(form)
            header = jwt.get_unverified_header(form["client_assertion"])
            claims = jwt.decode(
                form["client_assertion"],
                self.public_key,
                algorithms=[self.alg],
                audience=TOKEN_URL,
                leeway=900,
            )
            self.assertions.append((header, claims))
            token = uuid.uuid4().hex
            self.issued.append(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
            )
        if request.url.path.endswith("/.well-known/smart-configuration"):
            return httpx.Response(200, json={"token_endpoint": TOKEN_URL})
        self.fhir_requests.append(request)
        return self.fhir(request)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_smart_assertion_claims(alg: str) -> None:
    pem = rsa_pem() if alg == "RS384" else ec_pem()
    public = serialization.load_pem_private_key(pem, None).public_key()
    endpoint = TokenEndpoint(public, alg)
    start = time.time()
    now = [start]
    auth = SmartBackendAuth(
        client_id=CLIENT_ID, private_key=pem, kid="key-1", alg=alg, token_url=TOKEN_URL, clock=lambda: now[0]
    )
    client, _ = client_for(endpoint, auth=auth)
    async with client:
        await client.read("Patient", "p1")
        now[0] += 600  # the first token has expired: a second assertion
        await client.read("Patient", "p1")
    assert len(endpoint.assertions) == 2
    for header, claims in endpoint.assertions:  # signature, alg and aud verified by jwt.decode
        assert header["alg"] == alg and header["kid"] == "key-1"
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["aud"] == TOKEN_URL
        assert claims["exp"] - claims["iat"] <= 300
    assert endpoint.assertions[0][1]["exp"] <= start + 300
    assert len({claims["jti"] for _, claims in endpoint.assertions}) == 2  # a fresh jti every time
    form = endpoint.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["scope"] == "system/*.read"
    assert endpoint.fhir_requests[0].headers["authorization"] == f"Bearer {endpoint.issued[0]}"
    assert endpoint.fhir_requests[1].headers["authorization"] == f"Bearer {endpoint.issued[1]}"


async def test_the_token_is_cached_until_shortly_before_expiry_and_shared() -> None:
    pem = rsa_pem()
    endpoint = TokenEndpoint(
        serialization.load_pem_private_key(pem, None).public_key(), "RS384", expires_in=300
    )
    start = time.time()
    now = [start]
    auth = SmartBackendAuth(
        client_id=CLIENT_ID, private_key=pem, kid="k", token_url=TOKEN_URL, clock=lambda: now[0]
    )
    client, _ = client_for(endpoint, auth=auth)
    async with client:
        await asyncio.gather(*(client.read("Patient", f"p{i}") for i in range(6)))  # concurrent: one token
        assert auth.token_requests == 1
        now[0] = start + 269.0  # before the refresh margin (10 % of 300 s): the cached token
        await client.read("Patient", "p1")
        assert auth.token_requests == 1
        now[0] = start + 271.0  # inside the last 30 s of its life: refreshed before it can expire mid-pull
        await client.read("Patient", "p1")
    assert auth.token_requests == 2
    assert len(set(endpoint.issued)) == 2


async def test_a_401_refreshes_the_token_once() -> None:
    pem = ec_pem()
    refusals = [1]

    def fhir(request: httpx.Request) -> httpx.Response:
        if refusals[0]:
            refusals[0] -= 1
            return fhir_json(OUTCOME, 401)
        return fhir_json({"resourceType": "Patient", "id": "p1"})

    endpoint = TokenEndpoint(serialization.load_pem_private_key(pem, None).public_key(), "ES384", fhir=fhir)
    auth = SmartBackendAuth(client_id=CLIENT_ID, private_key=pem, kid="k", alg="ES384", token_url=TOKEN_URL)
    client, _ = client_for(endpoint, auth=auth)
    async with client:
        assert (await client.read("Patient", "p1"))["id"] == "p1"
    assert auth.token_requests == 2 and len(endpoint.fhir_requests) == 2

    refusals[0] = 5  # refused again with the fresh token: an auth error, not a loop
    client, _ = client_for(endpoint, auth=auth)
    async with client:
        with pytest.raises(FhirAuthError, match="HTTP 401"):
            await client.read("Patient", "p1")
    assert auth.token_requests == 3


async def test_the_token_endpoint_is_discovered() -> None:
    pem = rsa_pem()
    endpoint = TokenEndpoint(serialization.load_pem_private_key(pem, None).public_key(), "RS384")
    auth = SmartBackendAuth(client_id=CLIENT_ID, private_key=pem, kid="k")
    client, _ = client_for(endpoint, auth=auth)
    async with client:
        await client.capabilities()
    assert auth.token_url == TOKEN_URL and len(endpoint.assertions) == 1


async def test_a_refusing_token_endpoint_is_an_auth_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client", "error_description": "bad signature"})

    auth = SmartBackendAuth(client_id=CLIENT_ID, private_key=rsa_pem(), kid="k", token_url=TOKEN_URL)
    client, _ = client_for(refuse, auth=auth)
    async with client:
        with pytest.raises(FhirAuthError) as info:
            await client.capabilities()
    assert str(info.value) == (
        f"FHIR server {TOKEN_URL}: POST http://auth.test/token: "
        "the token endpoint refused the client: HTTP 401 (invalid_client)"
    )
    assert info.value.exit_code == 3


def test_a_key_that_does_not_fit_the_algorithm_is_refused() -> None:
    with pytest.raises(MedboardInputError, match="ES384 needs an EC private key on the P-384 curve"):
        SmartBackendAuth(
            client_id=CLIENT_ID, private_key=rsa_pem(), kid="k", alg="ES384", token_url=TOKEN_URL
        )
    with pytest.raises(MedboardInputError, match="RS384 needs an RSA private key"):
        SmartBackendAuth(client_id=CLIENT_ID, private_key=ec_pem(), kid="k", alg="RS384", token_url=TOKEN_URL)
    with pytest.raises(MedboardInputError, match="not an unencrypted PEM private key"):
        SmartBackendAuth(client_id=CLIENT_ID, private_key=b"not a key", kid="k", token_url=TOKEN_URL)
    with pytest.raises(MedboardInputError, match="not one of RS384, ES384"):
        SmartBackendAuth(
            client_id=CLIENT_ID, private_key=rsa_pem(), kid="k", alg="HS256", token_url=TOKEN_URL
        )


def test_reprs_hide_secrets() -> None:
    assert "secret" not in repr(BearerToken("secret-token"))
    pem = rsa_pem()
    assert "PRIVATE" not in repr(
        SmartBackendAuth(client_id=CLIENT_ID, private_key=pem, kid="k", token_url=TOKEN_URL)
    )


# --------------------------------------------------------------------------------- strategy


def test_capabilities_decide_the_strategy() -> None:
    from medboard.tools.fhir_server import read_capabilities

    listed = read_capabilities(
        {
            "resourceType": "CapabilityStatement",
            "rest": [
                {
                    "mode": "server",
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": [{"code": "read"}],
                            "operation": [{"name": "everything"}],
                        },
                        {"type": "Observation", "interaction": [{"code": "search-type"}]},
                        {"type": "Condition"},  # no interactions listed: assumed searchable
                        {"type": "Procedure", "interaction": [{"code": "read"}]},
                    ],
                }
            ],
        }
    )
    assert listed.patient_everything
    assert listed.can_search("Observation") and listed.can_search("Condition")
    assert not listed.can_search("Procedure") and not listed.can_search("Patient")
    system_level = read_capabilities(
        {
            "rest": [
                {
                    "operation": [
                        {
                            "name": "everything",
                            "definition": "http://hl7.org/fhir/OperationDefinition/Group-everything",
                        }
                    ]
                }
            ]
        }
    )
    assert not system_level.patient_everything  # Group's $everything is not Patient's
    assert system_level.searchable is None and system_level.can_search("Anything")  # nothing listed: try all
    by_definition = read_capabilities(
        {"rest": [{"operation": [{"name": "x", "definition": f"{EVERYTHING}|4.0.1"}]}]}
    )
    assert by_definition.patient_everything


EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"


class MiniServer:
    """A scripted FHIR server for the pull's own rules (types, fallback, exclusions)."""

    def __init__(self, *, everything: str | None, searchable: list[str]) -> None:
        self.everything = everything  # None: not offered; "refuse": offered but answers 405
        self.searchable = searchable
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/fhir/R4/")
        self.paths.append(path)
        if path == "metadata":
            patient: dict[str, Any] = {"type": "Patient", "interaction": [{"code": "read"}]}
            if self.everything:
                patient["operation"] = [{"name": "everything", "definition": EVERYTHING}]
            resources = [patient] + [
                {"type": t, "interaction": [{"code": "search-type"}]} for t in self.searchable
            ]
            return fhir_json(
                {"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": resources}]}
            )
        if path.endswith("$everything"):
            return fhir_json(OUTCOME, 405)
        if path == "Patient/p1":
            return fhir_json({"resourceType": "Patient", "id": "p1"})
        if path == "Medication/m1":
            return fhir_json({"resourceType": "Medication", "id": "m1"})
        if path == "Medication/gone":
            return fhir_json(OUTCOME, 404)
        assert request.url.params["patient"] == "Patient/p1"
        found = {
            "Observation": [
                {"resourceType": "Observation", "id": "o1"},
                {"resourceType": "Observation", "id": "o1"},
            ],
            "MedicationRequest": [
                {
                    "resourceType": "MedicationRequest",
                    "id": "r1",
                    "medicationReference": {"reference": "Medication/m1"},
                },
                {
                    "resourceType": "MedicationRequest",
                    "id": "r2",
                    "medicationReference": {"reference": "Medication/gone"},
                },
                {
                    "resourceType": "MedicationRequest",
                    "id": "r3",
                    "medicationReference": {"reference": "#contained"},
                },
            ],
            "Composition": [
                {
                    "resourceType": "Composition",
                    "id": "c1",
                    "identifier": {"system": "urn:medboard:summary", "value": "x"},
                },
                {"resourceType": "Composition", "id": "c2"},
            ],
        }.get(path, [])
        return fhir_json(searchset(found))


async def test_search_pull_skips_unlisted_types_follows_medications_and_leaves_out_own_summaries() -> None:
    server = MiniServer(everything=None, searchable=["Observation", "MedicationRequest", "Composition"])
    client, _ = client_for(server)
    async with client:
        pulled = await pull_patient(client, "Patient/p1")
    assert pulled.strategy == "search" and pulled.patient_id == "p1"
    assert keys(pulled.resources) == [
        "Composition/c2",
        "Medication/m1",
        "MedicationRequest/r1",
        "MedicationRequest/r2",
        "MedicationRequest/r3",
        "Observation/o1",
        "Patient/p1",
    ]
    assert pulled.excluded == 1  # medboard's own earlier summary is never evidence
    assert "Condition" in pulled.skipped_types and "Observation" not in pulled.skipped_types
    assert pulled.warnings == ["Medication/gone is referenced but not on the server"]
    searched = {p for p in server.paths if "/" not in p and p != "metadata"}
    assert searched == {"Observation", "MedicationRequest", "Composition"}  # nothing the server lacks
    assert server.paths[0] == "metadata" and server.paths[1] == "Patient/p1"
    assert pulled.requests == len(server.paths)
    bundle = pulled.to_bundle()
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 7


async def test_an_everything_the_server_refuses_falls_back_to_search() -> None:
    server = MiniServer(everything="refuse", searchable=["Observation"])
    client, _ = client_for(server)
    async with client:
        pulled = await pull_patient(client, "p1")
    assert pulled.strategy == "search"
    assert pulled.warnings == [
        "$everything refused (HTTP 405 Method Not Allowed (exception)); pulled by search instead"
    ]
    assert keys(pulled.resources) == ["Observation/o1", "Patient/p1"]


# ================================================================ against the real FHIR server


def keys(resources: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{r['resourceType']}/{r['id']}" for r in resources)


@pytest.mark.parametrize("name", ["austin_franecki", "jenny-m"])
async def test_everything_and_search_pull_the_same_record(fhir_server: Any, name: str) -> None:
    pid = fhir_server.load(name)
    fhir_server.configure(everything=True)
    async with FhirClient(fhir_server.base_url) as client:
        by_everything = await pull_patient(client, pid)
    everything_requests = fhir_server.requests()
    fhir_server.reset()  # an empty request log
    fhir_server.configure(everything=False)
    async with FhirClient(fhir_server.base_url) as client:
        by_search = await pull_patient(client, pid)
    search_requests = fhir_server.requests()

    assert by_everything.strategy == "everything" and by_search.strategy == "search"
    assert keys(by_everything.resources) == keys(by_search.resources)
    assert len(set(keys(by_search.resources))) == len(by_search.resources)  # de-duplicated
    everything_pages = [path for _, path in everything_requests if "$everything" in path]
    assert len(everything_pages) >= -(-len(by_everything.resources) // 200)  # _count=200, next links followed
    assert not any("$everything" in path for _, path in search_requests)
    searches = [path for _, path in search_requests if "?" in path]
    assert searches and all(
        f"patient=Patient%2F{pid}" in p or f"patient=Patient/{pid}" in p for p in searches
    )
    assert search_requests[0] == ("GET", "metadata")  # capabilities first
    assert by_search.requests == len(search_requests)
    types_pulled = {r["resourceType"] for r in by_search.resources}
    assert types_pulled <= {"Patient", *compartment_types(), "Medication"}
    assert "Claim" not in types_pulled and "Observation" in types_pulled

    # The pulled record is the file's record, minus what medboard does not read.
    from medplum_server import bundle_path

    from_file = load_record(bundle_path(name))
    from_server = load_record(by_search.to_bundle(), name=f"FHIR server {fhir_server.base_url}")
    assert len(from_server.facts) == len(from_file.facts)
    file_counts = sorted(
        r["resourceType"] for r in from_file.resources.values() if r["resourceType"] in types_pulled
    )
    assert sorted(r["resourceType"] for r in by_search.resources) == file_counts


async def test_paging_over_hundreds_of_observations(fhir_server: Any) -> None:
    pid = fhir_server.load("adan_pulido")  # 365 Observations
    fhir_server.configure(everything=False, page_size=50)
    async with FhirClient(fhir_server.base_url, page_size=50) as client:
        pulled = await pull_patient(client, pid)
    observations = [r for r in pulled.resources if r["resourceType"] == "Observation"]
    assert len(observations) == 365 and len({o["id"] for o in observations}) == 365
    pages = [p for _, p in fhir_server.requests() if p.startswith("Observation")]
    assert len(pages) == 8  # ceil(365 / 50), each next link followed once
    assert all("_count=50" in p for p in pages)


async def test_bearer_token(fhir_server: Any) -> None:
    pid = fhir_server.load("jenny-m")
    fhir_server.configure(auth="bearer")
    async with FhirClient(fhir_server.base_url, BearerToken(fhir_server.bearer_token)) as client:
        pulled = await pull_patient(client, pid)
    assert len(pulled.resources) > 30
    async with FhirClient(fhir_server.base_url, BearerToken("wrong-token")) as client:
        with pytest.raises(FhirAuthError, match="HTTP 401"):
            await pull_patient(client, pid)
    async with FhirClient(fhir_server.base_url) as client:
        with pytest.raises(FhirAuthError, match="HTTP 401"):
            await pull_patient(client, pid)


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_smart_backend_services_against_the_server(fhir_server: Any, alg: str) -> None:
    pid = fhir_server.load("jenny-m")
    pem = rsa_pem() if alg == "RS384" else ec_pem()
    client_id = f"medboard-{alg.lower()}-{uuid.uuid4().hex[:8]}"
    fhir_server.register_client(client_id, public_jwks(pem, kid="k1", alg=alg))
    fhir_server.configure(auth="smart", everything=False)  # many requests, one token
    auth = SmartBackendAuth(client_id=client_id, private_key=pem, kid="k1", alg=alg)  # token URL discovered
    async with FhirClient(fhir_server.base_url, auth) as client:
        pulled = await pull_patient(client, pid)
        assert auth.token_url == fhir_server.token_url
        assert auth.token_requests == 1  # one token for every request of the pull
        fhir_server.fault(401)  # the server drops the token early: one refresh, then on
        await client.read("Patient", pid)
        assert auth.token_requests == 2
    assert pulled.requests > 10 and len(pulled.resources) > 30

    stranger = SmartBackendAuth(
        client_id=client_id, private_key=rsa_pem() if alg == "RS384" else ec_pem(), kid="k1", alg=alg
    )
    async with FhirClient(fhir_server.base_url, stranger) as client:
        with pytest.raises(FhirAuthError, match="refused the client: HTTP 401 \\(invalid_client\\)"):
            await client.capabilities()


async def test_server_faults(fhir_server: Any) -> None:
    pid = fhir_server.load("jenny-m")
    sleeps = Sleeps()
    fhir_server.fault(429, retry_after=1)
    async with FhirClient(fhir_server.base_url, sleep=sleeps) as client:
        pulled = await pull_patient(client, pid)
    assert sleeps.calls == [1.0] and len(pulled.resources) > 30

    for status, kind in ((500, FhirServerUnavailable), (429, FhirRateLimited), (403, FhirAuthError)):
        fhir_server.reset()
        fhir_server.fault(status, times=10, retry_after=0 if status == 429 else None)
        async with FhirClient(fhir_server.base_url, sleep=Sleeps(), max_retries=2) as client:
            with pytest.raises(kind) as info:
                await pull_patient(client, pid)
        assert info.value.exit_code == 3
        assert f"HTTP {status}" in str(info.value)

    fhir_server.reset()
    async with FhirClient(fhir_server.base_url) as client:
        with pytest.raises(FhirNotFound) as not_found:
            await pull_patient(client, "no-such-patient")
    assert not_found.value.exit_code == 2


async def test_a_closed_port_is_unavailable() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with FhirClient(f"http://127.0.0.1:{port}/fhir/R4", sleep=Sleeps(), max_retries=1) as client:
        with pytest.raises(FhirServerUnavailable) as info:
            await pull_patient(client, "p1")
    assert "cannot connect (connection refused) after 2 attempts" in str(info.value)


async def test_no_patient_data_in_logs_at_info(fhir_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    pid = fhir_server.load("jenny-m")
    fhir_server.configure(everything=False)
    caplog.set_level("INFO", logger="medboard")
    async with FhirClient(fhir_server.base_url) as client:
        pulled = await pull_patient(client, pid)
    assert "pulled" in caplog.text  # the pull is logged: counts and timings only
    assert pid not in caplog.text and "jenny" not in caplog.text.lower()
    names = {
        n.get("family") for r in pulled.resources if r["resourceType"] == "Patient" for n in r.get("name", [])
    }
    assert names and not any(name and name in caplog.text for name in names)
