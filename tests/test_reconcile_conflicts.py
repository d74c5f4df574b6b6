"""The reconciliation's conflict rules on real records: each class planted once, each control quiet.

Planted variations edit a copy of a real bundle's JSON (tests/data/fhir, copied from the shared
mCODE and Synthea records) and load it through the real loader. Resources are picked by what
they are (a HER2 result, a chemotherapy order, a sided procedure, a stage group), not by id.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medboard.models import Discrepancy
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture
from medboard.tools.reconcile.conflicts import DEFAULT_RULES

DATA = Path(__file__).parent / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
ADAM = DATA / "mcode" / "Bundle-gx-genomic-bundle-adam-anyperson.json"
LOYD = DATA / "synthea" / "loyd_connelly.json"  # deceased 2012-06-16
SHARED_SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir" / "synthea"
KINDS = {
    "discordant_biomarker",
    "medication_status_across_types",
    "laterality_conflict",
    "stage_conflict_within_type",
    "after_death",
    "active_after_resolved",
}
SNOMED = "http://snomed.info/sct"


def bundle_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle["entry"]:
        yield entry["resource"]


def find(bundle: dict[str, Any], test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(r for r in resources(bundle) if test(r))


def add(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    entry: dict[str, Any] = {"resource": resource}
    if any((e.get("fullUrl") or "").startswith("urn:uuid:") for e in bundle["entry"]):
        entry["fullUrl"] = f"urn:uuid:{resource['id']}"
    if bundle.get("type") in {"transaction", "batch"}:
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    bundle["entry"].append(entry)
    return f"{resource['resourceType']}/{resource['id']}"


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def conflicts(bundle: dict[str, Any], kind: str | None = None) -> list[Discrepancy]:
    found = build_picture(load_record(bundle, name="planted")).discrepancies
    return [d for d in found if d.kind in KINDS and (kind is None or d.kind == kind)]


def cited(discrepancy: Discrepancy) -> set[str]:
    return {s.reference for s in discrepancy.sources}


def coded(display: str, code: str, system: str = "http://loinc.org") -> dict[str, Any]:
    coding = (
        {"system": system, "code": code, "display": display}
        if code
        else {"system": system, "display": display}
    )
    return {"coding": [coding]}


def is_her2(r: dict[str, Any]) -> bool:
    return r["resourceType"] == "Observation" and "HER2" in json.dumps(r.get("code", {}))


def is_clinical_group(r: dict[str, Any]) -> bool:
    return (
        r["resourceType"] == "Observation"
        and "clinical" in json.dumps(r.get("code", {})).lower()
        and ("stage group" in json.dumps(r.get("code", {})).lower())
    )


def clone(resource: dict[str, Any], new_id: str, **changes: Any) -> dict[str, Any]:
    twin = copy.deepcopy(resource)
    twin.pop("text", None)
    twin.pop("hasMember", None)
    twin["id"] = new_id
    twin.update(changes)
    return twin


# ------------------------------------------------------------------------------------------------
# untouched records


@pytest.mark.parametrize("path", [JENNY, ADAM, LOYD], ids=lambda p: p.stem)
def test_untouched_records_have_no_conflict_of_these_kinds(path: Path) -> None:
    """Jenny's remission has no date to contradict; Loyd died with nothing dated after it; Adam's
    genomic results are one per gene (a negative NRAS and a positive ALK are not discordant)."""
    assert conflicts(bundle_of(path)) == []


def test_rules_are_registered_once() -> None:
    assert len({rule.__name__ for rule in DEFAULT_RULES}) == len(DEFAULT_RULES) == 6


# ------------------------------------------------------------------------------------------------
# (a) biomarkers


def test_her2_negative_and_positive_same_day_is_critical() -> None:
    bundle = bundle_of(JENNY)
    her2 = find(bundle, is_her2)
    positive = add(bundle, clone(her2, "her2-second", valueCodeableConcept=coded("Positive", "LA6576-8")))
    [found] = conflicts(bundle, "discordant_biomarker")
    assert {ref(her2), positive} <= cited(found)
    assert found.severity == "critical"
    assert found.id == conflicts(bundle, "discordant_biomarker")[0].id  # stable


def test_later_discordant_specimen_is_a_warning() -> None:
    bundle = bundle_of(JENNY)
    her2 = find(bundle, is_her2)
    later = add(
        bundle,
        clone(
            her2,
            "her2-later",
            effectiveDateTime="2018-09-01",
            valueCodeableConcept=coded("Positive", "LA6576-8"),
        ),
    )
    [found] = conflicts(bundle, "discordant_biomarker")
    assert {ref(her2), later} <= cited(found) and found.severity == "warning"


def test_agreeing_repeat_and_numeric_trend_are_quiet() -> None:
    bundle = bundle_of(JENNY)
    add(bundle, clone(find(bundle, is_her2), "her2-repeat"))
    oncotype = find(bundle, lambda r: "valueQuantity" in r and r["resourceType"] == "Observation")
    value = {**oncotype["valueQuantity"], "value": float(oncotype["valueQuantity"]["value"]) * 2}
    add(bundle, clone(oncotype, "trend-later", effectiveDateTime="2019-06-01", valueQuantity=value))
    assert conflicts(bundle) == []


# ------------------------------------------------------------------------------------------------
# (b) medications


def _chemo_request(bundle: dict[str, Any]) -> dict[str, Any]:
    return find(bundle, lambda r: r["resourceType"] == "MedicationRequest" and "authoredOn" in r)


def _statement(request: dict[str, Any], rid: str, start: str, end: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": "stopped",
        "medicationCodeableConcept": request["medicationCodeableConcept"],
        "subject": request["subject"],
        "effectivePeriod": {"start": start, "end": end},
    }


def test_stopped_statement_before_an_active_request() -> None:
    bundle = bundle_of(JENNY)
    request = _chemo_request(bundle)  # active, authored 2018-04-12
    stopped = add(bundle, _statement(request, "stmt-stopped", "2017-10-01", "2018-03-01"))
    [found] = conflicts(bundle, "medication_status_across_types")
    assert {stopped, ref(request)} <= cited(found)


def test_a_stop_coded_as_the_ingredient_still_meets_the_product_order() -> None:
    """The statement names the ingredient (its own RxNorm code and text), the order a product: one
    ingredient to the picture, so one concept to this rule too."""
    bundle = bundle_of(JENNY)
    request = _chemo_request(bundle)
    statement = _statement(request, "stmt-ingredient", "2017-10-01", "2018-03-01")
    name = (
        request["medicationCodeableConcept"].get("text")
        or request["medicationCodeableConcept"]["coding"][0]["display"]
    )
    ingredient = name.split()[0].lower()
    statement["medicationCodeableConcept"] = {
        "coding": [
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "999999", "display": ingredient}
        ],
        "text": ingredient,
    }
    stopped = add(bundle, statement)
    [found] = conflicts(bundle, "medication_status_across_types")
    assert {stopped, ref(request)} <= cited(found)


def test_administration_after_a_stop_and_dose_before_it() -> None:
    bundle = bundle_of(JENNY)
    request = _chemo_request(bundle)
    request["status"] = "completed"
    stopped = add(bundle, _statement(request, "stmt-stop", "2018-04-12", "2018-06-01"))
    admin = {
        "resourceType": "MedicationAdministration",
        "id": "admin-after",
        "status": "completed",
        "medicationCodeableConcept": request["medicationCodeableConcept"],
        "subject": request["subject"],
        "effectiveDateTime": "2018-06-20",
    }
    control = copy.deepcopy(bundle)
    given = add(bundle, admin)
    [found] = conflicts(bundle, "medication_status_across_types")
    assert {stopped, given} <= cited(found)
    add(control, {**admin, "effectiveDateTime": "2018-05-20"})  # during the statement: no conflict
    assert conflicts(control) == []


def test_reordered_after_a_stopped_order_is_quiet() -> None:
    bundle = bundle_of(JENNY)
    request = _chemo_request(bundle)
    request["status"] = "stopped"
    add(bundle, clone(request, "reorder", status="active", authoredOn="2018-08-01"))
    assert conflicts(bundle) == []


# ------------------------------------------------------------------------------------------------
# (c) laterality


def _right_breast() -> list[dict[str, Any]]:
    return [coded("Right breast structure (body structure)", "73056007", SNOMED)]


def test_procedure_on_the_other_breast_than_the_cancer() -> None:
    bundle = bundle_of(JENNY)
    condition = find(bundle, lambda r: r["resourceType"] == "Condition")
    surgery = find(bundle, lambda r: r["resourceType"] == "Procedure" and "Left breast" in json.dumps(r))
    surgery["bodySite"] = _right_breast()
    [found] = conflicts(bundle, "laterality_conflict")
    assert {ref(condition), ref(surgery)} <= cited(found)


def test_specimen_from_the_other_side() -> None:
    bundle = bundle_of(JENNY)
    specimen = find(bundle, lambda r: r["resourceType"] == "Specimen")
    specimen["collection"]["bodySite"] = _right_breast()[0]
    [found] = conflicts(bundle, "laterality_conflict")
    assert ref(specimen) in cited(found) and any(s.startswith("Condition/") for s in cited(found))


# ------------------------------------------------------------------------------------------------
# (d) stages


def test_two_clinical_stage_groups_that_differ() -> None:
    bundle = bundle_of(JENNY)
    clinical = find(bundle, is_clinical_group)
    second = add(
        bundle,
        clone(clinical, "stage-second", valueCodeableConcept={"text": "Stage IIIA", **_stage("IIIA")}),
    )
    [found] = conflicts(bundle, "stage_conflict_within_type")
    assert {ref(clinical), second} <= cited(found)


def _stage(group: str) -> dict[str, Any]:
    return coded(f"American Joint Committee on Cancer stage {group} (qualifier value)", "", SNOMED)


def test_pathologic_differing_and_a_later_restaging_are_quiet() -> None:
    bundle = bundle_of(JENNY)
    clinical = find(bundle, is_clinical_group)
    pathologic = clone(
        clinical,
        "stage-pathologic",
        code=coded("Pathologic TNM stage grouping", "399588009", SNOMED),
        valueCodeableConcept=_stage("IIIA"),
        effectiveDateTime="2018-04-05",
    )
    add(bundle, pathologic)
    add(
        bundle,
        clone(clinical, "stage-restaged", valueCodeableConcept=_stage("IV"), effectiveDateTime="2019-06-01"),
    )
    assert conflicts(bundle, "stage_conflict_within_type") == []
    # the same IIIA as a second *clinical* group is a conflict, and cites no pathologic side
    same_day = add(bundle, clone(clinical, "stage-clinical-iiia", valueCodeableConcept=_stage("IIIA")))
    [found] = conflicts(bundle, "stage_conflict_within_type")
    assert same_day in cited(found) and "Observation/stage-pathologic" not in cited(found)


# ------------------------------------------------------------------------------------------------
# (e) after death


def _encounter(bundle: dict[str, Any], rid: str, start: str, **extra: Any) -> dict[str, Any]:
    subject = find(bundle, lambda r: r["resourceType"] == "Encounter")["subject"]
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": subject,
        "period": {"start": start, "end": start},
        **extra,
    }


def test_care_after_death_grouped_per_resource_type() -> None:
    bundle = bundle_of(LOYD)
    patient = find(bundle, lambda r: r["resourceType"] == "Patient")
    visits = [
        add(bundle, _encounter(bundle, f"after-death-{i}", f"2012-0{7 + i}-01T10:00:00Z")) for i in range(3)
    ]
    [found] = conflicts(bundle, "after_death")
    assert cited(found) == {ref(patient), *visits}
    assert found.severity == "critical"


def test_death_certification_is_not_care() -> None:
    bundle = bundle_of(LOYD)
    certification = coded("Death Certification", "308646001", SNOMED)
    add(bundle, _encounter(bundle, "certify", "2012-06-18T10:00:00Z", type=[certification]))
    add(bundle, _encounter(bundle, "same-day-before", "2012-06-16T01:00:00Z"))
    assert conflicts(bundle) == []


@pytest.mark.skipif(not SHARED_SYNTHEA.is_dir(), reason="../shared/data/fhir not available")
def test_shared_deceased_patients_have_only_death_documentation_after_death() -> None:
    """Three shared Synthea patients have an encounter, observation and report after death: the
    death certificate. Real data has no true after-death care, so every one must stay quiet."""
    deceased = [p for p in sorted(SHARED_SYNTHEA.glob("*.json")) if '"deceasedDateTime"' in p.read_text()]
    assert len(deceased) >= 3
    for path in deceased:
        assert conflicts(bundle_of(path), "after_death") == [], path.name


# ------------------------------------------------------------------------------------------------
# (f) active after resolved


def _resolve(condition: dict[str, Any], on: str) -> None:
    condition["clinicalStatus"] = coded(
        "Resolved", "resolved", "http://terminology.hl7.org/CodeSystem/condition-clinical"
    )
    condition["abatementDateTime"] = on


def test_resolved_cancer_before_later_chemotherapy() -> None:
    bundle = bundle_of(JENNY)
    condition = find(bundle, lambda r: r["resourceType"] == "Condition")
    _resolve(condition, "2018-04-01")
    [found] = conflicts(bundle, "active_after_resolved")
    chemo = {s for s in cited(found) if s.startswith("MedicationRequest/")}
    assert ref(condition) in cited(found) and len(chemo) >= 3  # the 2018-04-12 regimen and anastrozole


def test_remission_then_progression_status() -> None:
    bundle = bundle_of(JENNY)
    condition = find(bundle, lambda r: r["resourceType"] == "Condition")
    condition["abatementDateTime"] = "2018-10-01"  # remission, now dated
    status = find(bundle, lambda r: "97509-4" in json.dumps(r.get("code", {})))
    status["valueCodeableConcept"] = coded("Patient's condition worsened (finding)", "271299001", SNOMED)
    [found] = conflicts(bundle, "active_after_resolved")
    assert {ref(condition), ref(status)} <= cited(found)


def test_treatment_before_the_resolution_is_quiet() -> None:
    bundle = bundle_of(JENNY)
    _resolve(find(bundle, lambda r: r["resourceType"] == "Condition"), "2019-01-01")
    assert conflicts(bundle, "active_after_resolved") == []


def test_a_qualitative_lab_changing_over_time_is_a_trend_not_a_discordance() -> None:
    """A urine test positive one visit and negative the next is a course; on one day it is a clash."""
    bundle = bundle_of(LOYD)
    urine = find(
        bundle, lambda r: r["resourceType"] == "Observation" and "[Presence] in Urine" in json.dumps(r)
    )
    urine["valueCodeableConcept"] = coded("Positive", "LA6576-8")
    later = copy.deepcopy(bundle)
    add(
        later,
        clone(
            urine,
            "urine-later",
            effectiveDateTime="2011-01-01T10:00:00Z",
            valueCodeableConcept=coded("Negative", "LA6577-6"),
        ),
    )
    assert conflicts(later, "discordant_biomarker") == []
    same_day = add(bundle, clone(urine, "urine-same-day", valueCodeableConcept={"text": "not present"}))
    [found] = conflicts(bundle, "discordant_biomarker")
    assert {ref(urine), same_day} <= cited(found)
