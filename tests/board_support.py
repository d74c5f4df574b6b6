"""Shared by the board block tests: a real record → picture → specialists' findings → board layout.

Records are the real shared mCODE / Synthea bundles (the copies under tests/data when the shared
folder is absent); variations are planted by editing a bundle's JSON and loading the copy through
the real loader. Every statement can be put to the real verifier (`verdicts`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.agents.synthesizer.board import Board, compose_board
from medboard.models import Section, Statement, Verdict
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord
from medboard.tools.reconcile import build_picture

DATA = Path(__file__).parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
LOYD = (
    SHARED / "synthea" / "loyd_connelly.json"
    if (SHARED / "synthea" / "loyd_connelly.json").is_file()
    else DATA / "synthea" / "loyd_connelly.json"
)
JENNY_NAME = "Bundle-mcode-patient-bundle-jenny-m.json"
JENNY = (
    SHARED / "mcode" / JENNY_NAME
    if (SHARED / "mcode" / JENNY_NAME).is_file()
    else DATA / "mcode" / JENNY_NAME
)
SYNTHEA = sorted((SHARED / "synthea").glob("*.json")) if (SHARED / "synthea").is_dir() else [LOYD]
ALL_RECORDS = [*SYNTHEA, JENNY]


def shared_synthea(name: str) -> Path:
    path = SHARED / "synthea" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"shared record {name} not available")
    return path


def bundle(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def planted(data: dict[str, Any], tmp_path: Path, name: str = "planted.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def add(data: dict[str, Any], resource: dict[str, Any]) -> str:
    """Append a resource (its subject set to the bundle's patient); returns its reference."""
    patient = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    resource = copy.deepcopy(resource)
    for key in ("subject", "patient"):
        if key in resource:
            resource[key] = {"reference": f"Patient/{patient['id']}"}
    data["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return f"{resource['resourceType']}/{resource['id']}"


def observations(data: dict[str, Any], loinc: str) -> list[dict[str, Any]]:
    """The bundle's Observations with that LOINC code and a valueQuantity, in date order."""
    found = [
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and "valueQuantity" in e["resource"]
        and any(c.get("code") == loinc for c in e["resource"]["code"]["coding"])
    ]
    return sorted(found, key=lambda r: r.get("effectiveDateTime", ""))


def lab(
    resource_id: str,
    loinc: str,
    display: str,
    value: float,
    unit: str,
    when: str,
    *,
    system: str | None = None,
) -> dict[str, Any]:
    """A laboratory Observation as Synthea writes them."""
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system or "http://loinc.org", "code": loinc, "display": display}]},
        "subject": {},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


class Case:
    """One record laid out as a board, with the specialists' findings and the real verifier."""

    def __init__(self, source: Path | PatientRecord, case_date: str | None = None) -> None:
        self.record = source if isinstance(source, PatientRecord) else load_record(source)
        self.picture = build_picture(self.record, case_date=case_date)
        self.findings = ehr_findings(self.record, self.picture) + longitudinal_findings(
            self.record, self.picture
        )
        self.board = Board(picture=self.picture, findings=list(self.findings), record=self.record)
        self.sections = compose_board(self.board)

    def section(self, kind: str) -> Section:
        return next(s for s in self.sections if s.kind == kind)

    def texts(self, kind: str) -> list[str]:
        return [s.text for s in self.section(kind).statements]

    def verdict(self, statement: Statement) -> Verdict:
        return verify_statement(statement, self.findings, self.record, self.picture.case_date)

    def stated_elsewhere(self, kind: str) -> list[str]:
        """Texts of every statement outside the sections of this kind."""
        return [st.text for s in self.sections if s.kind != kind for st in s.statements]
