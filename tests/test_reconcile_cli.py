"""`medboard reconcile`: every shared bundle reconciles, the JSON contract keys, bad input → exit 2.

The shared data folder (`/work/shared/data/fhir`) is used when present, else the copies under
`tests/data/fhir` (the mCODE bundles and loyd_connelly).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from medboard.cli.main import main
from medboard.models.picture import (
    Biomarker,
    Cancer,
    ClinicalPicture,
    DataQuality,
    Line,
    Medication,
    PatientStatus,
    Result,
    Stage,
)
from medboard.models.summary import Discrepancy, EvidenceRef

DATA = Path(__file__).parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
ROOT = SHARED if SHARED.is_dir() else DATA
BUNDLES = sorted((ROOT / "mcode").glob("Bundle-*.json")) + sorted((ROOT / "synthea").glob("*.json"))
LOYD = DATA / "synthea" / "loyd_connelly.json"

# The contract of issue 10, key by key (at least these; extra optional keys are allowed).
TOP = {"case_date", "patient", "cancers", "medications", "discrepancies", "data_quality"}
PATIENT = {"reference", "deceased", "deceased_date", "cause_of_death"}
CANCER = {"condition", "name", "kind", "laterality", "stages", "biomarkers", "lines", "markers"}
STAGE = {"type", "group", "date", "sources"}
BIOMARKER = {"name", "code", "results", "conflict"}
RESULT = {"value", "date", "source"}
LINE = {"drugs", "start", "end", "status", "sources"}
MEDICATION = {"ingredient", "status", "last_evidence_date", "reason", "sources"}
DISCREPANCY = {"id", "kind", "description", "sources", "severity"}
DATA_QUALITY = {"kind", "description", "sources"}
REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["reconcile", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _check_contract(out: dict[str, Any]) -> None:
    assert set(out) >= TOP and set(out["patient"]) >= PATIENT
    for cancer in out["cancers"]:
        assert set(cancer) >= CANCER
        assert all(set(s) >= STAGE for s in cancer["stages"])
        assert all(set(line) >= LINE for line in cancer["lines"])
        for marker in cancer["biomarkers"]:
            assert set(marker) >= BIOMARKER and all(set(r) >= RESULT for r in marker["results"])
    assert all(set(m) >= MEDICATION for m in out["medications"])
    assert all(set(d) >= DISCREPANCY for d in out["discrepancies"])
    assert all(set(q) >= DATA_QUALITY for q in out["data_quality"])
    for reference in _references(out):
        assert REFERENCE.match(reference), reference


def _references(node: Any) -> list[str]:
    """Every ``sources`` / ``source`` reference in the JSON (a Discrepancy cites EvidenceRefs)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source" and isinstance(value, str):
                found.append(value)
            elif key == "sources":
                found.extend(v["reference"] if isinstance(v, dict) else v for v in value)
            else:
                found.extend(_references(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_references(item))
    return found


def test_the_shared_bundles_are_there() -> None:
    names = {p.name for p in BUNDLES}
    assert {"Bundle-mcode-patient-bundle-jenny-m.json", "loyd_connelly.json"} <= names


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_every_shared_bundle_reconciles(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, str(bundle))
    _check_contract(out)
    assert out["patient"]["reference"].startswith("Patient/")
    ClinicalPicture.model_validate(out)  # the JSON is the model, nothing lost or renamed
    assert main(["reconcile", str(bundle)]) == 0  # the tables render too
    tables = capsys.readouterr().out
    assert "Patient" in tables and "Data quality" in tables


def test_contract_keys_of_a_full_picture_at_every_level() -> None:
    """Every nested level filled in, so the contract is checked even where a record has no rows."""
    ref = "Observation/x"
    picture = ClinicalPicture(
        case_date="2020-01-01",
        patient=PatientStatus(reference="Patient/p", deceased=True, deceased_date="2020-01-01"),
        cancers=[
            Cancer(
                condition="Condition/c",
                name="Prostate cancer",
                stages=[Stage(type="clinical", group="IIA", sources=[ref])],
                biomarkers=[Biomarker(name="HER2", results=[Result(value="Negative", source=ref)])],
                lines=[Line(drugs=["docetaxel"], sources=["MedicationRequest/m"])],
            )
        ],
        medications=[Medication(ingredient="docetaxel", status="current", reason="r", sources=[ref])],
        discrepancies=[
            Discrepancy(
                id="d1",
                kind="stage_mismatch",
                description="d",
                sources=[EvidenceRef(reference=ref), EvidenceRef(reference="Observation/y")],
            )
        ],
        data_quality=[DataQuality(kind="after_death", description="d", sources=[ref])],
    )
    _check_contract(picture.model_dump(mode="json"))


def test_planted_data_quality_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = json.loads(LOYD.read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    protein = next(
        r
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "2885-2"
    )
    protein["valueQuantity"]["value"] = 76.21
    egfr = next(
        r
        for r in resources
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "33914-3"
    )
    egfr["valueQuantity"].update(unit="mL/min/{1.73_m2}", code="mL/min/{1.73_m2}")
    next(r for r in resources if r["resourceType"] == "Patient")["deceasedDateTime"] = "2009-01-01"
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(bundle))

    out = _json(capsys, str(path), "--case-date", "2012-06-14")
    _check_contract(out)
    assert out["case_date"] == "2012-06-14"
    kinds = {q["kind"] for q in out["data_quality"]}
    assert {"implausible_value", "after_death"} <= kinds
    implausible = next(q for q in out["data_quality"] if q["sources"] == [f"Observation/{protein['id']}"])
    assert "76.21 g/dL" in implausible["description"]
    units = {s["unit"] for s in out["labs"] if s["code"] == "33914-3"}
    assert units == {"mL/min", "mL/min/{1.73_m2}"}


def test_case_date_before_the_record_end(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, str(LOYD), "--case-date", "2005-01-01")
    later = [q for q in out["data_quality"] if q["kind"] == "after_case_date"]
    assert later and all(len(q["sources"]) <= 5 for q in later)
    assert all(p["date"][:10] <= "2005-01-01" for s in out["labs"] for p in s["points"])


def test_patient_option(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, str(DATA / "bulk"), "--patient", "p1")
    assert out["patient"]["reference"] == "Patient/p1"


def _one_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["reconcile", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medboard: error: ")
    assert "Traceback" not in captured.err + captured.out and not captured.out
    return lines[0]


@pytest.mark.parametrize("bad", ["2020-13-01", "yesterday", "01/02/2020", "2020-02-30"])
def test_bad_case_date_exits_2_naming_the_option(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error_line(capsys, str(LOYD), "--case-date", bad)
    assert "--case-date" in line and bad in line


def test_missing_file_exits_2_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_such_bundle.json"
    line = _one_error_line(capsys, str(missing))
    assert "no_such_bundle.json" in line


def test_unreadable_bundle_exits_2_like_record(capsys: pytest.CaptureFixture[str]) -> None:
    bad = Path(__file__).parent / "data" / "fhir_bad" / "invalid_json.json"
    line = _one_error_line(capsys, str(bad))
    assert main(["record", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == line


def test_record_text_in_tables_is_inert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping inside the cell
    bundle = json.loads(LOYD.read_text())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["code"] == "33914-3":
            resource["code"]["coding"][0]["display"] = "[red]G\x1b[31m"
            resource["code"]["text"] = "[red]G\x1b[31m"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(bundle))
    assert main(["reconcile", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # no live escape
    assert "[red]G\\x1b[31m" in out  # shown as text: not markup, escape visible
