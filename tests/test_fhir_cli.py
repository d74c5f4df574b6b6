"""`medboard record`: overview tables, --json payload, bad input -> one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from medboard.cli.main import main
from medboard.models import Fact

DATA = Path(__file__).parent / "data" / "fhir"
BAD = Path(__file__).parent / "data" / "fhir_bad"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def test_json_output(capsys) -> None:
    assert main(["record", str(JENNY), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) >= {"patient", "facts", "warnings", "skipped", "dangling"}
    assert payload["patient"]["reference"] == "Patient/cancer-patient-jenny-m"
    assert payload["patient"]["name"] == "Jenny M"
    facts = [Fact.model_validate(f) for f in payload["facts"]]
    her2 = next(f for f in facts if getattr(f.details, "marker", None) == "HER2")
    assert her2.value == "Negative"
    assert payload["dangling"] and all({"source", "path", "target"} <= set(d) for d in payload["dangling"])


def test_overview_tables(capsys) -> None:
    assert main(["record", str(DATA / "notes_bundle.json")]) == 0
    out = capsys.readouterr().out
    for heading in ("Patient", "Problems", "Latest labs", "Medications", "Procedures", "Reports & documents"):
        assert heading in out
    assert "Ada Example" in out and "letrozole" in out and "9.8 g/dL" in out


def test_patient_and_lenient_options(capsys) -> None:
    assert main(["record", str(DATA / "bulk"), "--patient", "p1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["patient"]["reference"] == "Patient/p1"
    assert main(["record", str(BAD / "invalid_resource.json"), "--lenient", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["skipped"][0]["location"].endswith("entry[2] (Observation/bad-value)")


def test_bad_input_exits_2_with_one_line(capsys) -> None:
    for name in ("misspelled_type.json", "empty_file.json", "two_patients.json"):
        assert main(["record", str(BAD / name)]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("medboard: error: ")
        assert name in lines[0]
        assert "Traceback" not in captured.err + captured.out


def test_subprocess_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medboard", "record", str(BAD / "invalid_json.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "invalid JSON at line 4, column 3" in result.stderr
