"""The EHR round trip through the CLI, against a real FHIR server (medplum, 127.0.0.1).

Pull a Synthea patient with SMART Backend Services (ES384 client assertion, a key this test makes
and registers), run it against a model whose traffic is recorded, then replay that traffic and
write the verified summary back; read the Composition and Provenance back from the server and
check them against the summary; run once more and see that nothing new is written.

Synthea bundles are transactions, so the server assigns new ids: every citation written back must
be one of *this server's* resources, which is exactly what a pulled record gives.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fake_openai import FakeOpenAIServer
from test_case_flow import clinical_responder

from medboard.cli.main import main
from medboard.models import CaseSummary
from medboard.tools.fhir_server import public_jwks
from medboard.tools.writeback.narrative import plain

AIAST = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "AIAST")


@pytest.fixture
def smart_args(fhir_server: Any, tmp_path: Path) -> list[str]:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file = tmp_path / "board-client.pem"
    key_file.write_bytes(pem)
    fhir_server.register_client("board-client", public_jwks(pem, kid="board-key", alg="ES384"))
    fhir_server.configure(auth="smart")
    return [
        "--smart-client-id", "board-client", "--smart-key", str(key_file),
        "--smart-kid", "board-key", "--smart-alg", "ES384",
    ]  # fmt: skip


def _read(fhir_server: Any, reference: str) -> dict[str, Any]:
    response = httpx.get(
        f"{fhir_server.base_url}/{reference}",
        headers={"Authorization": f"Bearer {fhir_server.bearer_token}", "Accept": "application/fhir+json"},
        timeout=30,
    )
    assert response.status_code == 200, f"{reference}: {response.status_code}"
    return dict(response.json())


def _search(fhir_server: Any, query: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{fhir_server.base_url}/{query}",
        headers={"Authorization": f"Bearer {fhir_server.bearer_token}", "Accept": "application/fhir+json"},
        timeout=30,
    )
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _text(div: str) -> str:
    """The visible text of an XHTML narrative (parsed: entities decoded, markup dropped)."""
    return " ".join(" ".join(ET.fromstring(div).itertext()).split())


def _divs(sections: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for section in sections:
        if "text" in section:
            found.append(section["text"]["div"])
        found.extend(_divs(section.get("section", [])))
    return found


def _cited(summary: CaseSummary) -> set[str]:
    return {ref.reference for s in summary.statements() for ref in s.evidence if ref.kind == "fhir"}


def test_pull_run_replay_write_back_read_back_and_rerun(
    fhir_server: Any, smart_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = fhir_server.load("micah_schinner")
    source = ["--fhir-server", fhir_server.base_url, "--patient", patient, *smart_args]
    cassette = tmp_path / "traffic.jsonl"

    # 1. Pull and run against a model, recording its traffic.
    with FakeOpenAIServer(clinical_responder(), models=["fake-medgemma"]) as model:
        live = ["run", *source, "--model", model.base_url, "--model-name", "fake-medgemma"]
        assert main([*live, "--record-cassette", str(cassette), "--out", str(tmp_path / "live")]) == 0
    assert cassette.read_text().strip(), "the model was called"
    capsys.readouterr()

    # 2. Pull again, replay the traffic (no model at all), write back.
    before = {t: fhir_server.count(t) for t in ("Composition", "Provenance", "Device")}
    replay = ["run", *source, "--replay", str(cassette), "--write-back"]
    assert main([*replay, "--out", str(tmp_path / "replayed")]) == 0
    printed = capsys.readouterr().out
    assert "write-back: created" in printed and "Composition/" in printed
    after = {t: fhir_server.count(t) for t in ("Composition", "Provenance", "Device")}
    assert after["Composition"] == before["Composition"] + 1
    assert after["Provenance"] == before["Provenance"] + 1

    summary = CaseSummary.model_validate_json((tmp_path / "replayed" / "summary.json").read_text())
    live_summary = CaseSummary.model_validate_json((tmp_path / "live" / "summary.json").read_text())
    assert [s.text for s in summary.statements()] == [s.text for s in live_summary.statements()]
    pulled = [json.loads(line) for line in (tmp_path / "replayed" / "record.ndjson").read_text().splitlines()]
    assert {f"{r['resourceType']}/{r['id']}" for r in pulled} >= _cited(summary)

    # 3. Read back what the server now holds, and check it against the summary.
    compositions = _search(fhir_server, f"Composition?subject=Patient/{patient}")
    assert len(compositions) == 1
    composition = compositions[0]
    assert composition["status"] == "preliminary"
    assert AIAST in {(c["system"], c["code"]) for c in composition["meta"]["security"]}
    narrative = " ".join(_text(div) for div in [composition["text"]["div"], *(_divs(composition["section"]))])
    # Record text is written as visible text (format characters as escapes, like summary.md).
    for statement in summary.statements():  # a table row is written as its cells
        for shown in statement.cells or [statement.text]:
            assert plain(shown) in narrative, statement.text
    for struck in summary.struck:
        assert plain(struck.statement.text) not in narrative
    entries = {
        entry["reference"]
        for section in composition["section"]
        for sub in [section, *section.get("section", [])]
        for entry in sub.get("entry", [])
    }
    assert entries == _cited(summary)
    for reference in sorted(entries)[:15]:  # cited resources are this server's own
        _read(fhir_server, reference)

    provenance = _search(fhir_server, f"Provenance?target=Composition/{composition['id']}")
    assert len(provenance) == 1
    assert {e["what"]["reference"] for e in provenance[0]["entity"]} == entries
    agents = [_read(fhir_server, a["who"]["reference"]) for a in provenance[0]["agent"]]
    assert any(d.get("version", [{}])[0].get("value") == summary.run.medboard_version for d in agents)
    assert any("fake-medgemma" in json.dumps(d) for d in agents), "the model is named"

    # 4. Run again: the server already holds this summary; nothing new is written.
    assert main([*replay, "--json"]) == 0
    assert "already on the server" in capsys.readouterr().err
    assert {t: fhir_server.count(t) for t in ("Composition", "Provenance", "Device")} == after


def test_write_back_needs_a_fhir_server(capsys: pytest.CaptureFixture[str]) -> None:
    from medboard.examples import DEFAULT_CASE

    assert main(["run", str(DEFAULT_CASE), "--write-back", "--model", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--fhir-server" in err and "Traceback" not in err
