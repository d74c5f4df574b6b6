"""The test FHIR server itself behaves like the servers the client must cope with.

These pin the wrapper's additions (paging links, /metadata, $everything on and off, auth, faults,
the SMART token endpoint's checks) so a client test that fails points at the client, not at the
test server.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

FHIR_JSON = {"Accept": "application/fhir+json"}


def _get(server, path: str, token: str | None = None) -> httpx.Response:
    headers = {**FHIR_JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.get(f"{server.base_url}/{path}", headers=headers, timeout=60)


def test_loads_a_synthea_transaction_and_pages_its_observations_with_next_links(fhir_server):
    patient = fhir_server.load("austin_franecki")
    url = f"Observation?patient=Patient/{patient}&_count=50"
    seen: list[str] = []
    pages = 0
    next_url: str | None = f"{fhir_server.base_url}/{url}"
    while next_url:
        bundle = httpx.get(next_url, headers=FHIR_JSON, timeout=60).json()
        assert bundle["type"] == "searchset"
        pages += 1
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        next_url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    assert pages > 2
    assert len(seen) == len(set(seen)) == bundle["total"]
    # A bare id finds nothing on this server (as on some real ones): clients must say Patient/{id}.
    assert not _get(fhir_server, f"Observation?patient={patient}").json().get("entry")


def test_page_size_cap_and_everything_switch(fhir_server):
    patient = fhir_server.load("jenny-m")
    fhir_server.configure(everything=True, page_size=7)
    capability = _get(fhir_server, "metadata").json()
    patient_type = next(r for r in capability["rest"][0]["resource"] if r["type"] == "Patient")
    assert patient_type["operation"][0]["name"] == "everything"
    everything = _get(fhir_server, f"Patient/{patient}/$everything").json()
    assert len(everything["entry"]) == 7 and everything["total"] > 7
    assert any(link["relation"] == "next" for link in everything["link"])

    fhir_server.configure(everything=False)
    capability = _get(fhir_server, "metadata").json()
    patient_type = next(r for r in capability["rest"][0]["resource"] if r["type"] == "Patient")
    assert "operation" not in patient_type
    assert _get(fhir_server, f"Patient/{patient}/$everything").status_code == 404


def test_faults_and_bearer_auth(fhir_server):
    patient = fhir_server.load("jenny-m")
    fhir_server.fault(429, retry_after=2)
    throttled = _get(fhir_server, f"Patient/{patient}")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert _get(fhir_server, f"Patient/{patient}").status_code == 200

    fhir_server.configure(auth="bearer")
    refused = _get(fhir_server, f"Patient/{patient}")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    allowed = _get(fhir_server, f"Patient/{patient}", token=fhir_server.bearer_token)
    assert allowed.status_code == 200
    assert ("GET", f"Patient/{patient}") in fhir_server.requests()


def _assertion(key, kid: str, client_id: str, aud: str, *, exp_in: int = 240, jti: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now + exp_in,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": kid})


def test_smart_token_endpoint_verifies_the_assertion_against_the_registered_jwks(fhir_server):
    patient = fhir_server.load("jenny-m")
    fhir_server.configure(auth="smart")
    key = ec.generate_private_key(ec.SECP384R1())
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    fhir_server.register_client(
        "board-app", {"keys": [{**public, "kid": "k1", "alg": "ES384", "use": "sig"}]}
    )
    config = _get(fhir_server, ".well-known/smart-configuration").json()
    assert config["token_endpoint"] == fhir_server.token_url

    def ask(assertion: str) -> httpx.Response:
        return httpx.post(
            fhir_server.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": "system/*.read",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
            timeout=30,
        )

    jti = uuid.uuid4().hex
    granted = ask(_assertion(key, "k1", "board-app", fhir_server.token_url, jti=jti))
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    assert _get(fhir_server, f"Patient/{patient}", token=token).status_code == 200

    other_key = ec.generate_private_key(ec.SECP384R1())
    assert (
        ask(_assertion(key, "k1", "board-app", fhir_server.token_url, jti=jti)).status_code == 401
    )  # replayed
    assert ask(_assertion(other_key, "k1", "board-app", fhir_server.token_url)).status_code == 401  # forged
    assert ask(_assertion(key, "k1", "board-app", "https://elsewhere/token")).status_code == 401  # wrong aud
    assert (
        ask(_assertion(key, "k1", "board-app", fhir_server.token_url, exp_in=3600)).status_code == 401
    )  # exp too far


def test_conditional_create_in_a_transaction_is_idempotent(fhir_server):
    device = {
        "resourceType": "Device",
        "identifier": [{"system": "urn:medboard:test-device", "value": uuid.uuid4().hex}],
    }
    value = device["identifier"][0]["value"]
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": device,
                "request": {
                    "method": "POST",
                    "url": "Device",
                    "ifNoneExist": f"identifier=urn:medboard:test-device|{value}",
                },
            }
        ],
    }
    before = fhir_server.count("Device")
    first = httpx.post(fhir_server.base_url, json=transaction, headers=FHIR_JSON, timeout=30).json()
    second = httpx.post(fhir_server.base_url, json=transaction, headers=FHIR_JSON, timeout=30).json()
    assert first["entry"][0]["response"]["status"] == "201"
    assert second["entry"][0]["response"]["status"] == "200"
    assert fhir_server.count("Device") == before + 1
