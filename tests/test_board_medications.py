"""Current medications and fitness (`agents/synthesizer/board/medications.py`) on real records.

Loyd Connelly: dead, nothing current; chronic congestive heart failure, Alzheimer's disease, an
LVEF series, and problems that do not bear on fitness (appendicitis in 1972, a colon polyp).
Jenny M (mCODE): anastrozole current, ECOG 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from board_support import ALL_RECORDS, JENNY, LOYD, Case, add, bundle, planted

from medboard.agents.synthesizer.board.medications import COLUMNS
from medboard.models.claims import MedicationClaim
from medboard.models.facts import Coding
from medboard.tools.reconcile.fitness import comorbidity, drug_class

SNOMED, ICD10CM = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def condition(
    resource_id: str, system: str, code: str, display: str, *, status: str = "active"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": resource_id,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {},
        "onsetDateTime": "2017-05-02",
    }


def request(resource_id: str, code: str, display: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": resource_id,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
        "subject": {},
        "authoredOn": authored,
    }


@pytest.fixture(scope="module")
def loyd() -> Case:
    return Case(LOYD)


def test_fitness_comorbidities_and_lvef_are_stated_and_the_rest_is_not(loyd: Case) -> None:
    section = loyd.section("medications")
    kinds = [s.cells[0] for s in section.statements if s.cells]
    assert kinds == ["Heart failure", "Dementia", "LVEF"]
    assert section.columns == COLUMNS
    texts = loyd.texts("medications")
    assert "Active problem: Chronic congestive heart failure (disorder), onset 2009-06-09." in texts
    assert "Left ventricular Ejection fraction: 48.9 % on 2011-12-17." in texts
    assert not any("Appendicitis" in t or "Polyp" in t for t in texts)
    # stated here, so not again in the appendix; what is not fitness stays there
    appendix = loyd.texts("appendix")
    assert not any("heart failure" in t for t in appendix)
    assert any("Appendicitis" in t for t in appendix)


def test_a_dead_patient_has_no_current_medication(loyd: Case) -> None:
    assert not any(isinstance(s.claim, MedicationClaim) for s in loyd.section("medications").statements)


def test_current_medication_keeps_its_finding_and_claim() -> None:
    case = Case(JENNY)
    rows = case.section("medications").statements
    assert [r.cells[0] for r in rows if r.cells] == ["Performance status", "Medication"]
    anastrozole = rows[1]
    assert isinstance(anastrozole.claim, MedicationClaim) and anastrozole.claim.status == "current"
    assert anastrozole.cells == ["Medication", "anastrozole", "current", "2018-09-30"]


@pytest.mark.parametrize("path", ALL_RECORDS, ids=lambda p: p.stem)
def test_every_statement_is_supported_on_every_shared_record(path: Path) -> None:
    case = Case(path)
    for statement in case.section("medications").statements:
        verdict = case.verdict(statement)
        assert verdict.verdict == "supported", (statement.text, verdict.reason)


def test_an_anticoagulant_is_named_and_listed_first(tmp_path: Path) -> None:
    data = bundle(JENNY)
    add(data, request("planted-apixaban", "1364445", "apixaban 5 MG Oral Tablet", "2018-10-20"))
    case = Case(planted(data, tmp_path))
    rows = [r for r in case.section("medications").statements if isinstance(r.claim, MedicationClaim)]
    assert [(r.cells[0], r.cells[1]) for r in rows] == [
        ("Anticoagulant", "apixaban"),
        ("Medication", "anastrozole"),
    ]
    assert all(case.verdict(r).verdict == "supported" for r in rows)


def test_comorbidities_are_matched_by_code_never_by_display(tmp_path: Path) -> None:
    data = bundle(JENNY)
    add(data, condition("planted-ckd", ICD10CM, "N18.4", "Kidney problem"))  # ICD-10 code, vague words
    add(data, condition("planted-words", "http://example.org/local", "X1", "Chronic kidney disease stage 4"))
    add(data, condition("planted-old-hf", SNOMED, "84114007", "Heart failure", status="resolved"))
    case = Case(planted(data, tmp_path))
    rows = {r.cells[1]: r for r in case.section("medications").statements if r.cells}
    assert rows["Kidney problem"].cells[0] == "Chronic kidney disease"
    assert "Chronic kidney disease stage 4" not in rows  # words alone decide nothing
    assert "Heart failure" not in rows  # resolved: no longer weighs on fitness
    assert case.verdict(rows["Kidney problem"]).verdict == "supported"


def test_the_tables_name_concepts_by_code() -> None:
    assert comorbidity([Coding(system=SNOMED, code="88805009")]).key == "heart_failure"  # type: ignore[union-attr]
    assert comorbidity([Coding(system=ICD10CM, code="I12.9")]).key == "ckd"  # type: ignore[union-attr]
    assert comorbidity([Coding(system=ICD10CM, code="I10")]).key == "hypertension"  # type: ignore[union-attr]
    assert comorbidity([Coding(system=SNOMED, code="15777000")]) is None  # prediabetes is not diabetes
    assert comorbidity([Coding(system="http://example.org", code="84114007")]) is None
    assert drug_class("warfarin sodium") == "anticoagulant"
    assert drug_class("clopidogrel") == "antiplatelet"
    assert drug_class("anastrozole") is None


def test_a_diagnosis_recorded_twice_is_one_row_citing_both(tmp_path: Path) -> None:
    data = bundle(LOYD)
    again = add(
        data, condition("planted-hf-again", SNOMED, "88805009", "Chronic congestive heart failure (disorder)")
    )
    case = Case(planted(data, tmp_path))
    rows = [r for r in case.section("medications").statements if r.cells and r.cells[0] == "Heart failure"]
    assert len(rows) == 1
    assert rows[0].text == "Active problem: Chronic congestive heart failure (disorder), onset 2009-06-09."
    assert again in {e.reference for e in rows[0].evidence}
    assert case.verdict(rows[0]).verdict == "supported"
