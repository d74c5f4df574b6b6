"""`medboard run|record|reconcile --fhir-server URL --patient ID` against a real FHIR server.

Every server fault reaches the user as one line on stderr and the documented exit code (README
"With a FHIR server", docs/exit-codes.md): 3 for a server that is down, refuses or fails; 2 for an
unknown patient or a malformed answer. A run from the server gives the same statements as a run
of the same bundle file, and keeps the pulled resources beside the summary (record.ndjson).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from medplum_server import bundle_path

from medboard.cli.main import main
from medboard.tools.fhir_server import public_jwks


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------ usage (no server needed)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (
            ["run", "case.json", "--fhir-server", "http://h/fhir", "--patient", "p"],
            "give a CASE or --fhir-server, not both",
        ),
        (
            ["record", "b.json", "--fhir-server", "http://h/fhir", "--patient", "p"],
            "give a PATH or --fhir-server, not both",
        ),
        (["reconcile", "--fhir-server", "http://h/fhir"], "--fhir-server needs --patient ID"),
        (["record", "b.json", "--fhir-token", "t"], "--fhir-token is only used with --fhir-server"),
        (["record"], "give a PATH (a FHIR file or folder) or --fhir-server URL --patient ID"),
        (
            ["record", "--fhir-server", "ftp://h/fhir", "--patient", "p"],
            "is not an http(s) URL of a FHIR server",
        ),
        (["record", "--fhir-server", "http://h/fhir?x=1", "--patient", "p"], "without ?query or #fragment"),
        (
            ["record", "--fhir-server", "http://h/fhir", "--patient", "../metadata"],
            "--patient '../metadata' is not a FHIR id",
        ),
        (
            [
                "record",
                "--fhir-server",
                "http://h/fhir",
                "--patient",
                "p",
                "--fhir-token",
                "t",
                "--smart-client-id",
                "c",
            ],
            "give a bearer token (--fhir-token / MEDBOARD_FHIR_TOKEN) or SMART settings, not both",
        ),
        (
            ["record", "--fhir-server", "http://h/fhir", "--patient", "p", "--smart-client-id", "c"],
            "SMART backend auth needs --smart-key, --smart-kid too",
        ),
        (
            [
                "record",
                "--fhir-server",
                "http://h/fhir",
                "--patient",
                "p",
                "--smart-client-id",
                "c",
                "--smart-alg",
                "HS256",
            ],
            "invalid FHIR setting smart_alg (--smart-alg / MEDBOARD_FHIR_SMART_ALG)",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert problem in one_error_line(capsys)


def test_a_bad_setting_in_the_environment_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDBOARD_FHIR_RETRIES", "many")
    assert main(["record", "--fhir-server", "http://h/fhir", "--patient", "p"]) == 2
    assert "invalid FHIR setting retries (MEDBOARD_FHIR_RETRIES)" in one_error_line(capsys)


# ------------------------------------------------------------------ against the server


def test_record_and_reconcile_from_the_server(fhir_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    pid = fhir_server.load("jenny-m")
    assert (
        main(["record", "--fhir-server", fhir_server.base_url, "--patient", f"Patient/{pid}", "--json"]) == 0
    )
    pulled = json.loads(capsys.readouterr().out)
    assert main(["record", str(bundle_path("jenny-m")), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert sorted(f["id"] for f in pulled["facts"]) == sorted(f["id"] for f in from_file["facts"])  # same ids

    assert main(["reconcile", "--fhir-server", fhir_server.base_url, "--patient", pid, "--json"]) == 0
    picture = json.loads(capsys.readouterr().out)
    assert main(["reconcile", str(bundle_path("jenny-m")), "--json"]) == 0
    assert picture == json.loads(capsys.readouterr().out)


def test_bearer_token_from_the_environment(
    fhir_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = fhir_server.load("jenny-m")
    fhir_server.configure(auth="bearer")
    assert main(["record", "--fhir-server", fhir_server.base_url, "--patient", pid]) == 3
    line = one_error_line(capsys)
    assert line == (
        f"medboard: error: FHIR server {fhir_server.base_url}: GET metadata: "
        "HTTP 401 Unauthorized (login): the server refused the credentials"
    )
    monkeypatch.setenv("MEDBOARD_FHIR_TOKEN", fhir_server.bearer_token)
    assert main(["record", "--fhir-server", fhir_server.base_url, "--patient", pid, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["facts"]
    assert fhir_server.bearer_token not in capsys.readouterr().err


def test_smart_options(fhir_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = fhir_server.load("jenny-m")
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file = tmp_path / "client.pem"
    key_file.write_bytes(pem)
    fhir_server.register_client("medboard-cli", public_jwks(pem, kid="cli-key", alg="ES384"))
    fhir_server.configure(auth="smart", everything=False)
    smart = ["--smart-client-id", "medboard-cli", "--smart-key", str(key_file), "--smart-kid", "cli-key"]
    argv = ["reconcile", "--fhir-server", fhir_server.base_url, "--patient", pid, "--json", *smart]
    assert main([*argv, "--smart-alg", "es384"]) == 0
    assert json.loads(capsys.readouterr().out)["cancers"]
    paths = [path for _, path in fhir_server.requests()]
    assert ".well-known/smart-configuration" in paths and len(paths) > 10

    assert main([*argv, "--smart-alg", "RS384"]) == 2  # the key is not an RSA key
    assert (
        one_error_line(capsys) == f"medboard: error: --smart-key {key_file}: RS384 needs an RSA private key"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CAPABLE = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "kind": "instance",
    "fhirVersion": "4.0.1",
    "rest": [{"mode": "server", "resource": [{"type": "Patient", "operation": [{"name": "everything"}]}]}],
}


@pytest.mark.parametrize(
    ("fault", "code", "problem"),
    [
        ("down", 3, "GET metadata: cannot connect (connection refused) after 4 attempts"),
        ("401", 3, "GET metadata: HTTP 401 Unauthorized (exception): the server refused the credentials"),
        (
            "403",
            3,
            "GET metadata: HTTP 403 Forbidden (exception): the credentials lack access (scope or policy)",
        ),
        ("429-exhausted", 3, "GET metadata: HTTP 429 Too Many Requests (exception) after 4 attempts"),
        ("429-too-long", 3, "the server asks to retry after 3600 s, longer than the 60 s this client waits"),
        ("500", 3, "GET metadata: HTTP 500 Internal Server Error (exception) after 4 attempts"),
        ("not-json", 2, "GET metadata: body is not JSON (line 1, column 2: Expecting property name"),
        ("malformed-searchset", 2, "answered a Bundle of type 'collection', not a searchset Bundle"),
        (
            "unknown-patient",
            2,
            "GET Patient/no-such-patient: HTTP 404 Not Found (not-found): no such resource",
        ),
    ],
)
def test_server_faults_are_one_line_and_the_documented_exit_code(
    fhir_server: Any, fault: str, code: int, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = fhir_server.load("jenny-m")
    base = fhir_server.base_url
    if fault == "down":
        base = f"http://127.0.0.1:{closed_port()}/fhir/R4"
    elif fault == "unknown-patient":
        pid = "no-such-patient"
    elif fault == "malformed-searchset":  # a true /metadata offering $everything, then a broken page
        fhir_server.fault(200, body=CAPABLE)
        fhir_server.fault(200, body={"resourceType": "Bundle", "type": "collection", "entry": []})
    elif fault == "not-json":
        fhir_server.fault(200, body="{not json")
    elif fault == "429-exhausted":
        fhir_server.fault(429, times=10, retry_after=0)
    elif fault == "429-too-long":
        fhir_server.fault(429, retry_after=3600)
    else:
        fhir_server.fault(int(fault), times=10)
    assert main(["record", "--fhir-server", base, "--patient", pid, "--json"]) == code
    line = one_error_line(capsys)
    assert line.startswith(f"medboard: error: FHIR server {base}: ")
    assert problem in line


def test_429_with_retry_after_then_success(fhir_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    pid = fhir_server.load("jenny-m")
    fhir_server.fault(429, retry_after=1)
    assert main(["record", "--fhir-server", fhir_server.base_url, "--patient", pid, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["facts"]
    assert [p for _, p in fhir_server.requests()][:2] == ["metadata", "metadata"]  # waited, then again


# ------------------------------------------------------------------ run: same statements as the file


@pytest.mark.parametrize("name", ["jenny-m", "austin_franecki"])
def test_run_from_the_server_matches_the_bundle_file(
    fhir_server: Any, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = fhir_server.load(name)
    server_out, file_out = tmp_path / "server", tmp_path / "file"
    argv = [
        "run",
        "--fhir-server",
        fhir_server.base_url,
        "--patient",
        pid,
        "--model",
        "none",
        "--out",
        str(server_out),
    ]
    assert main(argv) == 0
    assert main(["run", str(bundle_path(name)), "--model", "none", "--out", str(file_out)]) == 0
    capsys.readouterr()

    from_server = json.loads((server_out / "summary.json").read_text())
    from_file = json.loads((file_out / "summary.json").read_text())

    def texts(summary: dict[str, Any]) -> list[str]:
        return [s["text"] for section in summary["sections"] for s in section["statements"]]

    assert texts(from_server) and texts(from_server) == texts(from_file)

    lines = (server_out / "record.ndjson").read_text().splitlines()
    resources = [json.loads(line) for line in lines]
    assert resources[0] == {**resources[0], "resourceType": "Patient", "id": pid}
    assert len({f"{r['resourceType']}/{r['id']}" for r in resources}) == len(resources) > 30
    manifest = json.loads((server_out / ".medboard-manifest.json").read_text())
    assert "record.ndjson" in manifest["files"]
    assert not (file_out / "record.ndjson").exists()


def test_a_foreign_record_ndjson_in_out_is_refused_before_the_pull(
    fhir_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = fhir_server.load("jenny-m")
    (tmp_path / "record.ndjson").write_text("the user's own file\n")
    argv = [
        "run",
        "--fhir-server",
        fhir_server.base_url,
        "--patient",
        pid,
        "--model",
        "none",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 2
    assert "record.ndjson exists and was not written by medboard" in one_error_line(capsys)
    assert fhir_server.requests() == []  # refused in milliseconds, before any request
    assert (tmp_path / "record.ndjson").read_text() == "the user's own file\n"
