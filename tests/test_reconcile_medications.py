"""Reconciled medications and vital status on real records (issue 10).

Every shared bundle reconciles; no Synthea patient who died before the case date has a current
medication; planted variations of Jenny M's real mCODE bundle (a stopped statement, an old order, a
recent administration, one drug under three resource types) change only the drug they touch.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from medboard.models.picture import ClinicalPicture, Medication
from medboard.tools.fhir import PatientRecord, load_record
from medboard.tools.reconcile import build_picture
from medboard.tools.reconcile.drugs import ingredient_name, therapy_kind
from medboard.tools.reconcile.medications import day_of

DATA = Path(__file__).parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
SHARED_FILES = sorted(SHARED.glob("*/*.json")) if SHARED.is_dir() else []
SYNTHEA_FILES = sorted((SHARED / "synthea").glob("*.json")) if SHARED.is_dir() else []
SYNTHEA_FILES = SYNTHEA_FILES or [DATA / "synthea" / "loyd_connelly.json"]
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
PATIENT = "Patient/cancer-patient-jenny-m"
ANASTROZOLE_ORDER = "MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
STATUSES = {"current", "stopped", "completed", "stale", "unknown"}


def _by_name(picture: ClinicalPicture) -> dict[str, Medication]:
    return {m.ingredient: m for m in picture.medications}


def _jenny() -> dict[str, Any]:
    return json.loads(JENNY.read_text())


def _load(bundle: dict[str, Any], tmp_path: Path) -> PatientRecord:
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(bundle))
    return load_record(path)


def _add(bundle: dict[str, Any], resource: dict[str, Any]) -> None:
    url = f"http://example.org/fhir/{resource['resourceType']}/{resource['id']}"
    bundle["entry"].append({"fullUrl": url, "resource": resource})


def _concept(display: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": RXNORM, "code": code, "display": display}]}


def _entry(bundle: dict[str, Any], reference: str) -> dict[str, Any]:
    kind, rid = reference.split("/")
    return next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == kind and e["resource"]["id"] == rid
    )


def _assert_others_unchanged(before: ClinicalPicture, after: ClinicalPicture, touched: str) -> None:
    """Negative control: every medication but the touched one is judged exactly as before."""
    old, new = _by_name(before), _by_name(after)
    assert set(old) - {touched} == set(new) - {touched}
    for name in set(old) - {touched}:
        assert new[name] == old[name], name


@pytest.fixture(scope="module")
def jenny_before() -> ClinicalPicture:
    return build_picture(load_record(JENNY))


# --- every shared record ---------------------------------------------------------------------


@pytest.mark.skipif(not SHARED_FILES, reason="../shared/data/fhir not available")
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_record_reconciles(path: Path) -> None:
    record = load_record(path)
    picture = build_picture(record)
    names = [m.ingredient for m in picture.medications]
    assert len(names) == len(set(names))
    for med in picture.medications:
        assert med.ingredient and med.ingredient == med.ingredient.lower()
        assert med.status in STATUSES and med.reason
        assert med.sources and all(ref in record for ref in med.sources), med
        if med.last_evidence_date is not None:
            assert date.fromisoformat(med.last_evidence_date)
    assert picture.patient.reference == record.patient_ref
    assert all(ref in record for ref in picture.patient.sources)
    # current first, then the latest evidence first
    keys = [
        (m.status != "current", -(day_of(m.last_evidence_date) or date.min).toordinal())
        for m in picture.medications
    ]
    assert keys == sorted(keys)
    json.loads(picture.model_dump_json())  # the JSON contract serialises


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=lambda p: p.name)
def test_no_current_medication_after_death(path: Path) -> None:
    record = load_record(path)
    picture = build_picture(record)
    raw = json.loads(path.read_text())
    patient = next(e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "Patient")
    assert picture.patient.deceased == ("deceasedDateTime" in patient or bool(patient.get("deceasedBoolean")))
    assert picture.patient.deceased_date == patient.get("deceasedDateTime")
    died, case = day_of(picture.patient.deceased_date), day_of(picture.case_date)
    assert case is not None
    if died is not None and died <= case:
        assert picture.medications, "a Synthea death record with no medication tests nothing"
        assert not [m for m in picture.medications if m.status == "current"]
    else:  # alive at the case date: every current drug has evidence within its window
        for med in picture.medications:
            if med.status == "current":
                assert med.last_evidence_date and day_of(med.last_evidence_date) <= case


@pytest.mark.skipif(not SYNTHEA_FILES or not SHARED_FILES, reason="../shared/data/fhir not available")
def test_cause_of_death_from_the_death_certificate_observation() -> None:
    causes = {}
    for path in SYNTHEA_FILES:
        status = build_picture(load_record(path)).patient
        raw = json.loads(path.read_text())
        certificates = [
            e["resource"]
            for e in raw["entry"]
            if e["resource"]["resourceType"] == "Observation"
            and any(c.get("code") == "69453-9" for c in e["resource"]["code"].get("coding", []))
        ]
        if certificates:
            cert = certificates[0]
            assert status.deceased
            assert status.cause_of_death == cert["valueCodeableConcept"]["text"]
            assert f"Observation/{cert['id']}" in status.sources
            causes[path.name] = status.cause_of_death
    assert causes  # the shared Synthea deaths carry certificates


# --- planted variations of a real bundle -----------------------------------------------------


def test_jenny_as_shipped(jenny_before: ClinicalPicture) -> None:
    meds = _by_name(jenny_before)
    assert meds["anastrozole"].status == "current"
    assert meds["anastrozole"].last_evidence_date == "2018-09-30"
    assert "oral" in meds["anastrozole"].reason
    # the AC-T chemotherapy ordered in April is not current in November (cyclic window)
    for drug in ("cyclophosphamide", "doxorubicin", "paclitaxel"):
        assert meds[drug].status == "stale" and "cyclic" in meds[drug].reason
    assert jenny_before.medications[0].ingredient == "anastrozole"


def test_stopped_statement_beats_an_active_order(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    _add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "anastrozole-stopped",
            "status": "stopped",
            "statusReason": [{"text": "arthralgia"}],
            "medicationCodeableConcept": _concept("anastrozole 1 MG Oral Tablet", "199224"),
            "subject": {"reference": PATIENT},
            "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
            "dateAsserted": "2018-10-25",
        },
    )
    after = build_picture(_load(bundle, tmp_path))
    med = _by_name(after)["anastrozole"]
    assert med.status == "stopped"
    assert "MedicationStatement/anastrozole-stopped" in med.reason and "arthralgia" in med.reason
    assert "2018-10-20" in med.reason
    assert set(med.sources) == {ANASTROZOLE_ORDER, "MedicationStatement/anastrozole-stopped"}
    _assert_others_unchanged(jenny_before, after, "anastrozole")


def test_a_new_order_after_a_stop_restarts_the_drug(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    _add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "anastrozole-stopped-earlier",
            "status": "stopped",
            "medicationCodeableConcept": _concept("anastrozole 1 MG Oral Tablet", "199224"),
            "subject": {"reference": PATIENT},
            "effectivePeriod": {"start": "2018-06-01", "end": "2018-07-01"},
        },
    )
    med = _by_name(build_picture(_load(bundle, tmp_path)))["anastrozole"]
    assert med.status == "current" and "restarted" in med.reason


def test_an_old_active_order_is_stale(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    _entry(bundle, ANASTROZOLE_ORDER)["authoredOn"] = "2012-09-30"
    after = build_picture(_load(bundle, tmp_path))
    med = _by_name(after)["anastrozole"]
    assert med.status == "stale"
    assert med.last_evidence_date == "2012-09-30" and "marked active" in med.reason
    _assert_others_unchanged(jenny_before, after, "anastrozole")


def test_a_recent_administration_is_current(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    _add(
        bundle,
        {
            "resourceType": "MedicationAdministration",
            "id": "cyclophosphamide-dose",
            "status": "completed",
            "medicationCodeableConcept": _concept("cyclophosphamide 500 MG Injection", "1734919"),
            "subject": {"reference": PATIENT},
            "effectiveDateTime": "2018-10-25",
        },
    )
    after = build_picture(_load(bundle, tmp_path))
    med = _by_name(after)["cyclophosphamide"]
    assert med.status == "current" and med.last_evidence_date == "2018-10-25"
    assert "MedicationAdministration/cyclophosphamide-dose" in med.reason and "cyclic" in med.reason
    assert after.medications[0].status == "current"
    _assert_others_unchanged(jenny_before, after, "cyclophosphamide")


def test_one_ingredient_across_request_statement_administration_and_dispense(
    jenny_before: ClinicalPicture, tmp_path: Path
) -> None:
    bundle = _jenny()
    subject = {"reference": PATIENT}
    _add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "arimidex-taking",
            "status": "active",
            "medicationCodeableConcept": {"text": "Arimidex 1mg"},
            "subject": subject,
            "effectivePeriod": {"start": "2018-09-30"},
        },
    )
    _add(
        bundle,
        {
            "resourceType": "MedicationAdministration",
            "id": "anastrozole-given",
            "status": "completed",
            "medicationCodeableConcept": _concept("anastrozole 1 MG Oral Tablet", "199224"),
            "subject": subject,
            "effectiveDateTime": "2018-10-02",
        },
    )
    _add(
        bundle,
        {
            "resourceType": "MedicationDispense",
            "id": "anastrozole-dispensed",
            "status": "completed",
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "med",
                    "code": {"text": "ANASTROZOLE 1 MG TAB"},
                    "ingredient": [{"itemCodeableConcept": _concept("anastrozole", "84857")}],
                }
            ],
            "medicationReference": {"reference": "#med"},
            "subject": subject,
            "whenHandedOver": "2018-10-15",
        },
    )
    after = build_picture(_load(bundle, tmp_path))
    med = _by_name(after)["anastrozole"]
    assert set(med.sources) == {
        ANASTROZOLE_ORDER,
        "MedicationStatement/arimidex-taking",
        "MedicationAdministration/anastrozole-given",
        "MedicationDispense/anastrozole-dispensed",
    }
    assert med.status == "current" and med.last_evidence_date == "2018-10-15"
    _assert_others_unchanged(jenny_before, after, "anastrozole")


def test_evidence_after_the_case_date_is_not_current() -> None:
    picture = build_picture(load_record(JENNY), case_date="2018-04-01")
    meds = _by_name(picture)
    assert picture.case_date == "2018-04-01"
    assert not [m for m in picture.medications if m.status == "current"]
    assert meds["anastrozole"].last_evidence_date is None
    assert "after the case date" in meds["anastrozole"].reason


def test_death_before_the_case_date_ends_currency(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    _entry(bundle, PATIENT)["deceasedDateTime"] = "2018-10-28"
    after = build_picture(_load(bundle, tmp_path))
    assert after.patient.deceased and after.patient.deceased_date == "2018-10-28"
    assert PATIENT in after.patient.sources
    med = _by_name(after)["anastrozole"]
    assert med.status == "stale" and "died" in med.reason
    assert _by_name(jenny_before)["anastrozole"].status == "current"
    # death touches every drug: none is current, the stale ones stay stale
    assert not [m for m in after.medications if m.status == "current"]
    assert {m.ingredient for m in after.medications} == {m.ingredient for m in jenny_before.medications}


def test_a_dose_after_death_is_not_current_and_is_named(
    jenny_before: ClinicalPicture, tmp_path: Path
) -> None:
    bundle = _jenny()
    _entry(bundle, PATIENT)["deceasedDateTime"] = "2018-10-20"
    _add(
        bundle,
        {
            "resourceType": "MedicationAdministration",
            "id": "posthumous-dose",
            "status": "completed",
            "medicationCodeableConcept": _concept("PACLitaxel 100 MG Injection", "583214"),
            "subject": {"reference": PATIENT},
            "effectiveDateTime": "2018-10-25",
        },
    )
    med = _by_name(build_picture(_load(bundle, tmp_path)))["paclitaxel"]
    assert med.status == "stale" and "died on 2018-10-20" in med.reason
    assert "after death" in med.reason and "MedicationAdministration/posthumous-dose" in med.reason


def test_a_draft_or_cancelled_order_is_no_evidence(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    for rid, status in (("draft-order", "draft"), ("cancelled-order", "cancelled")):
        order = copy.deepcopy(_entry(bundle, ANASTROZOLE_ORDER))
        order.update(id=rid, status=status, authoredOn="2018-10-30")
        _add(bundle, order)
    _entry(bundle, ANASTROZOLE_ORDER)["authoredOn"] = "2012-09-30"
    med = _by_name(build_picture(_load(bundle, tmp_path)))["anastrozole"]
    assert med.status == "stale" and med.last_evidence_date == "2012-09-30"
    assert {"MedicationRequest/draft-order", "MedicationRequest/cancelled-order"} <= set(med.sources)


def test_an_order_not_to_give_stops_the_drug(jenny_before: ClinicalPicture, tmp_path: Path) -> None:
    bundle = _jenny()
    order = copy.deepcopy(_entry(bundle, ANASTROZOLE_ORDER))
    order.update(id="do-not-give", doNotPerform=True, authoredOn="2018-10-10")
    _add(bundle, order)
    after = build_picture(_load(bundle, tmp_path))
    med = _by_name(after)["anastrozole"]
    assert med.status == "stopped" and "MedicationRequest/do-not-give" in med.reason
    _assert_others_unchanged(jenny_before, after, "anastrozole")


# --- names and kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ingredient"),
    [
        ("anastrozole 1 MG Oral Tablet", "anastrozole"),
        ("Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", "amoxicillin / clavulanate"),
        ("Clavulanate 125 MG / Amoxicillin 250 MG Oral Tablet", "amoxicillin / clavulanate"),
        ("0.25 ML Leuprolide Acetate 30 MG/ML Prefilled Syringe", "leuprolide"),
        ("24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]", "metoprolol"),
        ("10 ML doxorubicin hydrochloride 2 MG/ML Injection", "doxorubicin"),
        ("ferrous sulfate 325 MG Oral Tablet", "ferrous sulfate"),
        ("Naproxen sodium 220 MG Oral Tablet", "naproxen"),
        ("Vitamin B 12 5 MG/ML Injectable Solution", "vitamin b 12"),
        ("24hr nicotine transdermal patch", "nicotine"),
        ("Lasix 40mg", "furosemide"),
        ("PACLitaxel", "paclitaxel"),
        ("Vancomycin Hydrochloride (VANCOMYCIN HYDROCHLORIDE)", "vancomycin"),  # NDC display, R4 example
    ],
)
def test_ingredient_names(text: str, ingredient: str) -> None:
    assert ingredient_name([text]) == ingredient


def test_therapy_kinds() -> None:
    assert therapy_kind("paclitaxel", "PACLitaxel (175 mg/m² IV)") == "cyclic"
    assert therapy_kind("oxaliplatin", "10 ML oxaliplatin 5 MG/ML Injection") == "cyclic"
    assert (
        therapy_kind("leuprolide", "0.25 ML Leuprolide Acetate 30 MG/ML Prefilled Syringe") == "long_acting"
    )
    assert therapy_kind("anastrozole", "1mg orally once daily") == "oral"
    assert therapy_kind("furosemide", "10 ML Furosemide 10 MG/ML Injection") == "default"
