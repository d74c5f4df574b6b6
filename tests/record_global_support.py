"""Real records with one record-global error planted, for the record-global verifier tests.

Each helper edits a copy of a shared record's JSON (tests/data/fhir holds copies of the shared
mCODE and Synthea bundles) and loads it through the real loader. Resources are picked by what they
are (the anastrozole order, the HER2 result, a haemoglobin), never by a hard-coded id.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from medboard.models import EvidenceRef, Statement
from medboard.models.claims import Claim
from medboard.tools.fhir import load_record
from medboard.tools.fhir.record import PatientRecord

DATA = Path(__file__).parent / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
LOYD = DATA / "synthea" / "loyd_connelly.json"  # deceased 2012-06-16; Synthea urn:uuid references
SHARED_SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir" / "synthea"
ADAN = SHARED_SYNTHEA / "adan_pulido.json"  # deceased 2007-03-25; implausible protein values

POSITIVE = {"coding": [{"system": "http://loinc.org", "code": "LA6576-8", "display": "Positive"}]}


def bundle_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle["entry"]:
        yield entry["resource"]


def find(bundle: dict[str, Any], test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(r for r in resources(bundle) if test(r))


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def add(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    entry: dict[str, Any] = {"resource": resource}
    if any((e.get("fullUrl") or "").startswith("urn:uuid:") for e in bundle["entry"]):
        entry["fullUrl"] = f"urn:uuid:{resource['id']}"
    if bundle.get("type") in {"transaction", "batch"}:
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    bundle["entry"].append(entry)
    return ref(resource)


def clone(resource: dict[str, Any], new_id: str, **changes: Any) -> dict[str, Any]:
    twin = copy.deepcopy(resource)
    twin.pop("text", None)
    twin.pop("hasMember", None)
    twin["id"] = new_id
    twin.update(changes)
    return twin


def load(bundle: dict[str, Any]) -> PatientRecord:
    return load_record(copy.deepcopy(bundle), name="planted")


def statement(text: str, *refs: str, claim: Claim | None = None, sid: str = "s1") -> Statement:
    return Statement(id=sid, text=text, evidence=[EvidenceRef(reference=r) for r in refs], claim=claim)


# ------------------------------------------------------------------------------- pickers


def is_anastrozole_order(r: dict[str, Any]) -> bool:
    return r["resourceType"] == "MedicationRequest" and "anastrozole" in json.dumps(r).lower()


def is_her2(r: dict[str, Any]) -> bool:
    return r["resourceType"] == "Observation" and "HER2" in json.dumps(r.get("code", {}))


def is_clinical_stage_group(r: dict[str, Any]) -> bool:
    code = json.dumps(r.get("code", {})).lower()
    return r["resourceType"] == "Observation" and "clinical" in code and "stage group" in code


def is_hemoglobin(r: dict[str, Any]) -> bool:
    return (
        r["resourceType"] == "Observation"
        and '"718-7"' in json.dumps(r.get("code", {}))
        and "valueQuantity" in r
    )


# ------------------------------------------------------------------------------- plants


def stop_anastrozole(bundle: dict[str, Any]) -> tuple[str, str]:
    """A MedicationStatement: anastrozole stopped for arthralgia on 2018-10-20 (after its only
    order, before Jenny's case date 2018-11-01). Returns (order, stopping statement)."""
    order = find(bundle, is_anastrozole_order)
    stop = add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "planted-anastrozole-stopped",
            "status": "stopped",
            "medicationCodeableConcept": order["medicationCodeableConcept"],
            "subject": order["subject"],
            "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
            "statusReason": [{"text": "arthralgia"}],
        },
    )
    return ref(order), stop


def second_her2(bundle: dict[str, Any], *, when: str | None = None, agree: bool = False) -> tuple[str, str]:
    """A second HER2 result: Positive (discordant) unless `agree`; the same day unless `when`.
    Returns (the original Negative result, the planted one)."""
    her2 = find(bundle, is_her2)
    changes: dict[str, Any] = {} if agree else {"valueCodeableConcept": POSITIVE}
    if when:
        changes["effectiveDateTime"] = when
    planted = add(bundle, clone(her2, "planted-her2", **changes))
    return ref(her2), planted


def kill(bundle: dict[str, Any], when: str) -> str:
    """deceasedDateTime on the Patient. Returns the Patient's reference."""
    patient = find(bundle, lambda r: r["resourceType"] == "Patient")
    patient.pop("deceasedBoolean", None)
    patient["deceasedDateTime"] = when
    return ref(patient)


def stage_value(group: str) -> dict[str, Any]:
    display = f"American Joint Committee on Cancer stage {group} (qualifier value)"
    return {"coding": [{"system": "http://snomed.info/sct", "display": display}]}


def second_stage_group(bundle: dict[str, Any], group: str, *, pathologic: bool) -> tuple[str, str]:
    """Another stage group for Jenny's cancer the same day: pathologic (may differ) or a second
    clinical one (a conflict). Returns (the clinical stage group, the planted one)."""
    clinical = find(bundle, is_clinical_stage_group)
    changes: dict[str, Any] = {"valueCodeableConcept": stage_value(group)}
    if pathologic:
        code = {
            "system": "http://snomed.info/sct",
            "code": "399588009",
            "display": "Pathologic TNM stage grouping",
        }
        changes["code"] = {"coding": [code]}
    planted = add(
        bundle, clone(clinical, "planted-pathologic" if pathologic else "planted-clinical", **changes)
    )
    return ref(clinical), planted
