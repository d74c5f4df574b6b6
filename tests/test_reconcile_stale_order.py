"""A stopped drug whose older order was never updated: the record contradicts itself.

On the shared mCODE bundle of Jenny M (anastrozole ordered 2018-09-30, still ``active``), a
MedicationStatement saying she stopped it on 2018-10-20 is added. The picture must say the drug is
stopped and a `medication_status_across_types` warning must cite both the statement and the stale
order; an order that ran out before the stop, or a completed one, stays quiet.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from medboard.models import Discrepancy
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir"
JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
ORDER = "MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m"
STOP = "MedicationStatement/stopped-anastrozole"
KIND = "medication_status_across_types"


def _order(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == ORDER.split("/")[1])


def _with_stop(bundle: dict[str, Any], status: str = "stopped") -> dict[str, Any]:
    order = _order(bundle)
    assert order["status"] == "active" and order["authoredOn"] == "2018-09-30"
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": STOP.split("/")[1],
                "status": status,
                "statusReason": [{"text": "Stopped because of arthralgia"}],
                "medicationCodeableConcept": copy.deepcopy(order["medicationCodeableConcept"]),
                "subject": {"reference": "Patient/cancer-patient-jenny-m"},
                "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
                "dateAsserted": "2018-10-25",
            }
        }
    )
    return bundle


def _discrepancies(bundle: dict[str, Any]) -> tuple[list[Discrepancy], str]:
    picture = build_picture(load_record(bundle, name="jenny-edited"), case_date="2018-11-01")
    status = next(m.status for m in picture.medications if m.ingredient == "anastrozole")
    return [d for d in picture.discrepancies if d.kind == KIND], status


def test_stale_active_order_after_a_recorded_stop_is_a_warning() -> None:
    found, status = _discrepancies(_with_stop(json.loads(JENNY.read_text())))
    assert status == "stopped"
    [conflict] = found
    assert conflict.severity == "warning"
    assert {s.reference for s in conflict.sources} == {STOP, ORDER}
    assert "stopped on 2018-10-20" in conflict.description
    assert "2018-09-30" in conflict.description


def test_untouched_record_has_no_such_discrepancy() -> None:
    found, status = _discrepancies(json.loads(JENNY.read_text()))
    assert found == []
    assert status == "current"


def test_order_that_ran_out_before_the_stop_is_quiet() -> None:
    bundle = _with_stop(json.loads(JENNY.read_text()))
    for dosage in _order(bundle)["dosageInstruction"]:
        dosage["timing"]["repeat"]["boundsPeriod"]["end"] = "2018-10-10"
    found, _ = _discrepancies(bundle)
    assert found == []


def test_completed_course_or_completed_order_is_quiet() -> None:
    completed = _with_stop(json.loads(JENNY.read_text()), status="completed")
    assert _discrepancies(completed)[0] == []
    updated = _with_stop(json.loads(JENNY.read_text()))
    _order(updated)["status"] = "stopped"
    assert _discrepancies(updated)[0] == []
