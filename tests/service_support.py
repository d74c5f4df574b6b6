"""Helpers for the HTTP service tests: a running app, CDS client keys and JWTs, real prefetch.

`running(settings)` starts the service's case engine and yields an httpx client over
`httpx.ASGITransport` (no socket); `UvicornThread` serves an app with a real uvicorn on 127.0.0.1
for what only a socket shows (a streamed body cut at the cap, the access log). `CdsClient` is an
EHR's signing key (ES384 by default) with its JWKS and a `token()` that signs the spec's claims.
`prefetch_from(bundle)` builds the spec's patient-view request out of a real bundle's resources.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from medboard.models import CaseSummary
from medboard.service.app import create_app
from medboard.service.settings import ServiceSettings

FHIR_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
JENNY = FHIR_DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
SYNTHEA = FHIR_DATA / "synthea"
JENNY_ID = "cancer-patient-jenny-m"

TOKEN = "test-token-0123456789abcdef"
OTHER_TOKEN = "second-token-fedcba9876543210"
PUBLIC_URL = "https://medboard.test"
ISSUER = "https://ehr.example.org/"
SERVICE_URL = f"{PUBLIC_URL}/cds-services/medboard-patient-view"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {"api_tokens": [TOKEN, OTHER_TOKEN], "model": "none", "public_url": PUBLIC_URL}
    values.update(overrides)
    return ServiceSettings(**values)


@contextlib.asynccontextmanager
async def running(
    service_settings: ServiceSettings, **kwargs: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(service_settings, **kwargs)
    state = app.state.medboard
    await asyncio.to_thread(state.start)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, timeout=60) as client:
            yield app, client
    finally:
        await state.stop()


async def wait_done(client: httpx.AsyncClient, case_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GET /cases/{id} until the case is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/cases/{case_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        if state["status"] in ("done", "failed"):
            return state
        assert time.monotonic() < deadline, f"case still {state['status']} after {timeout} s"
        await asyncio.sleep(0.05)


def summary_of(state: dict[str, Any]) -> CaseSummary:
    return CaseSummary.model_validate(state["summary"])


def check_cards_shape(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A CDS response as the spec shapes it (validated; no null or empty attribute); its cards."""
    from medboard.service.cds_hooks.cards import CdsResponse

    CdsResponse.model_validate(body)
    cards: list[dict[str, Any]] = body["cards"]
    for card in cards:
        assert all(value not in (None, "", [], {}) for value in card.values()), card
        assert len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"] == "medboard"
    return cards


# ---------------------------------------------------------------------------- CDS client keys


class CdsClient:
    """A CDS client (EHR): a private key, its public JWKS, and JWTs signed the spec's way."""

    def __init__(
        self, alg: str = "ES384", kid: str = "ehr-key-1", issuer: str = ISSUER, jwk_alg: bool = True
    ):
        self.alg, self.kid, self.issuer = alg, kid, issuer
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}[alg]
            self.private_key: Any = ec.generate_private_key(curve)
            public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key.public_key()))
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        public.update({"kid": kid, "use": "sig"})
        if jwk_alg:
            public["alg"] = alg
        self.jwks = {"keys": [public]}

    def public_pem(self) -> bytes:
        return bytes(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def write_jwks(self, folder: Path) -> Path:
        path = folder / f"jwks-{self.kid}.json"
        path.write_text(json.dumps(self.jwks))
        return path

    def claims(self, audience: str = SERVICE_URL, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "tenant": "2ddd6c3a-8e9a-44c6-a305-52111ad302a2",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        audience: str = SERVICE_URL,
        *,
        key: Any = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        return jwt.encode(
            self.claims(audience, **claims),
            key if key is not None else self.private_key,
            algorithm=self.alg,
            headers={"kid": self.kid, "typ": "JWT", **(headers or {})},
        )

    def header(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], *, hmac_key: bytes | None = None) -> str:
    """A JWT built by hand: ``alg: none`` (empty signature), or HS256 with `hmac_key` (pyjwt refuses
    to sign HMAC with a PEM public key — the key-confusion forgery this builds on purpose)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


# ---------------------------------------------------------------------------- prefetch


PREFETCH_TYPES = {
    "conditions": "Condition",
    "observations": "Observation",
    "medications": "MedicationRequest",
    "reports": "DiagnosticReport",
}


def searchset(
    resources: list[dict[str, Any]], base: str = "https://ehr.example.org/fhir"
) -> dict[str, Any] | None:
    """A searchset Bundle of `resources`, or None (the spec's value for a key with no data)."""
    if not resources:
        return None
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def prefetch_from(bundle_path: Path = JENNY) -> tuple[str, dict[str, Any]]:
    """(patient id, the prefetch a CDS client would send for the service's templates)."""
    bundle = json.loads(bundle_path.read_text())
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient}
    for key, kind in PREFETCH_TYPES.items():
        prefetch[key] = searchset([r for r in resources if r["resourceType"] == kind])
    return patient["id"], prefetch


def hook_request(patient_id: str, prefetch: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """The spec's example request shape, for `patient_id`."""
    request: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": patient_id, "encounterId": "89284"},
    }
    if prefetch is not None:
        request["prefetch"] = prefetch
    request.update(extra)
    return request


# ---------------------------------------------------------------------------- a real server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UvicornThread:
    """`app` served by uvicorn on 127.0.0.1 in a thread (lifespan on: the engine starts and stops)."""

    def __init__(self, app: FastAPI, **config: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", **config)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
