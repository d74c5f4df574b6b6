"""A drug stop named inside a line-of-therapy row is claimed, dated by the record, and checked.

On the shared mCODE bundle of Jenny M, a MedicationStatement says she took anastrozole from
2018-09-30 and stopped it on 2018-10-20 (arthralgia), and a renewal order on 2018-10-28 restarts
it (the planted-anastrozole scenario, edited here from the real bundle). The row of line 2 must
say the stop on 2018-10-20 (the statement's period end, not its start 2018-09-30) and carry it in
its `LineClaim`; a claim with the period start as the stop date is contradicted, naming the source.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.longitudinal.core import longitudinal_findings
from medboard.agents.synthesizer.template import draft_sections
from medboard.models import SectionKind, Statement, VerdictLabel
from medboard.models.claims import ClaimedStop, LineClaim
from medboard.tools.checks.claims import check_claim
from medboard.tools.checks.pipeline import verify_statement
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
ORDER_ID = "cancer-related-medication-request-anastrozole-jenny-m"
STOP = "MedicationStatement/stopped-anastrozole"
CASE_DATE = "2018-11-01"


def _edited() -> dict[str, Any]:
    bundle = json.loads(JENNY.read_text())
    order = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == ORDER_ID)
    statement = {
        "resourceType": "MedicationStatement",
        "id": STOP.split("/")[1],
        "status": "stopped",
        "statusReason": [{"text": "Stopped because of arthralgia"}],
        "medicationCodeableConcept": copy.deepcopy(order["medicationCodeableConcept"]),
        "subject": {"reference": "Patient/cancer-patient-jenny-m"},
        "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
        "dateAsserted": "2018-10-25",
    }
    renewal = copy.deepcopy(order)
    renewal.pop("text", None)
    renewal["id"] = "renewal-anastrozole"
    renewal["authoredOn"] = "2018-10-28"
    for dosage in renewal["dosageInstruction"]:
        dosage["timing"]["repeat"].pop("boundsPeriod", None)
    bundle["entry"] += [{"resource": statement}, {"resource": renewal}]
    return bundle


def _line_row() -> tuple[Statement, Any, Any, list[Any]]:
    record = load_record(_edited(), name="jenny-edited")
    picture = build_picture(record, case_date=CASE_DATE)
    findings = ehr_findings(record, picture) + longitudinal_findings(record, picture)
    sections = draft_sections(findings, picture=picture, record=record)
    rows = [
        s
        for section in sections
        if section.kind == SectionKind.cancer
        for s in section.statements
        if isinstance(s.claim, LineClaim) and s.claim.drugs == ["anastrozole"]
    ]
    assert len(rows) == 1
    return rows[0], record, picture, findings


def test_row_says_the_recorded_stop_date_and_claims_it() -> None:
    row, record, picture, findings = _line_row()
    assert "anastrozole stopped on 2018-10-20" in row.text
    assert "2018-09-30: Stopped" not in row.text
    assert isinstance(row.claim, LineClaim)
    assert row.claim.stops == [ClaimedStop(drug="anastrozole", date="2018-10-20", source=STOP)]
    assert check_claim(row.claim, picture, record).outcome == "pass"
    assert verify_statement(row, findings, record, CASE_DATE).verdict == VerdictLabel.supported


def test_claimed_stop_on_the_period_start_is_contradicted() -> None:
    row, record, picture, findings = _line_row()
    assert isinstance(row.claim, LineClaim)
    wrong = row.claim.model_copy(
        update={"stops": [ClaimedStop(drug="anastrozole", date="2018-09-30", source=STOP)]}
    )
    result = check_claim(wrong, picture, record)
    assert result.outcome == "fail"
    assert "stopped on 2018-09-30" in result.detail and "2018-10-20" in result.detail
    assert STOP in {e.reference for e in result.evidence}
    tampered = row.model_copy(
        update={"claim": wrong, "text": row.text.replace("stopped on 2018-10-20", "stopped on 2018-09-30")}
    )
    assert verify_statement(tampered, findings, record, CASE_DATE).verdict == VerdictLabel.contradicted


def test_claimed_stop_date_where_none_is_recorded_fails() -> None:
    row, record, picture, _ = _line_row()
    assert isinstance(row.claim, LineClaim)
    order = f"MedicationRequest/{ORDER_ID}"  # its boundsPeriod has a start only
    claim = row.claim.model_copy(
        update={"stops": [ClaimedStop(drug="anastrozole", date="2018-09-30", source=order)]}
    )
    result = check_claim(claim, picture, record)
    assert result.outcome == "fail" and "records no stop date" in result.detail
