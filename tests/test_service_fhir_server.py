"""The service's default fetcher against the real test FHIR server (medplum, 127.0.0.1).

`POST /cases {"fhir_server", "patient"}` and a CDS call without prefetch pull the record through
`medboard.tools.fhir_server` (the FHIR client) from the real test server; the fake-fetcher tests in
test_service.py and test_cds_hooks.py cover the service's side of the seam.
"""

from __future__ import annotations

from pathlib import Path

from service_support import (
    AUTH,
    ISSUER,
    CdsClient,
    check_cards_shape,
    hook_request,
    running,
    settings,
    wait_done,
)

SERVICE = "/cds-services/medboard-patient-view"


async def test_a_case_is_pulled_from_the_fhir_server_with_the_callers_token(fhir_server) -> None:  # type: ignore[no-untyped-def]
    patient = fhir_server.load("jenny-m")
    fhir_server.configure(auth="bearer", everything=False)
    async with running(settings(fhir_servers=[fhir_server.base_url])) as (_, client):
        pulled = await client.post(
            "/cases",
            json={
                "fhir_server": fhir_server.base_url,
                "patient": patient,
                "access_token": fhir_server.bearer_token,
            },
            headers=AUTH,
        )
        refused = await client.post(
            "/cases", json={"fhir_server": fhir_server.base_url, "patient": patient}, headers=AUTH
        )
        done = await wait_done(client, pulled.json()["id"], timeout=120)
        failed = await wait_done(client, refused.json()["id"], timeout=120)
    assert done["status"] == "done", done
    assert done["summary"]["patient"] == f"Patient/{patient}"
    assert failed["status"] == "failed" and "\n" not in failed["error"]
    assert fhir_server.bearer_token not in str(done) + str(failed)


async def test_a_cds_call_without_prefetch_fetches_through_fhir_server(fhir_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    patient = fhir_server.load("jenny-m")
    fhir_server.configure(auth="bearer")
    ehr = CdsClient()
    service_settings = settings(
        fhir_servers=[fhir_server.base_url],
        cds_issuers={ISSUER: str(ehr.write_jwks(tmp_path))},
        cds_budget_s=30,
    )
    authorization = {
        "access_token": fhir_server.bearer_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "medboard",
    }
    async with running(service_settings) as (_, client):
        response = await client.post(
            SERVICE,
            json=hook_request(
                patient, None, fhirServer=fhir_server.base_url, fhirAuthorization=authorization
            ),
            headers=ehr.header(),
        )
    assert response.status_code == 200, response.text
    cards = check_cards_shape(response.json())
    assert cards[0]["summary"].startswith("Jenny M, 53-year-old female")
