"""The EHR specialist and the synthesizer read the clinical picture (real shared records).

Each defect seen on real records has a test here: a discordant HER2 result hidden behind the
latest one, a drug stopped for toxicity shown current, decades-old orders shown current, "no
staging" beside a diagnosis named "..., TNM stage 1", impossible lab values stated as facts, data
after the death stated without a flag. Planted variations edit a copy of Jenny M's real mCODE
bundle (as tests/test_reconcile_conflicts.py does) and load it through the real loader.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medboard.agents.ehr.core import ehr_findings
from medboard.agents.synthesizer.template import draft_sections, missing_information, statement_for
from medboard.models import Finding, FindingCategory, SectionKind, Statement, iso_day
from medboard.models.claims import MedicationClaim, ResultClaim, StageClaim, VitalStatusClaim
from medboard.tools.fhir import PatientRecord, load_record
from medboard.tools.reconcile import build_picture

DATA = Path(__file__).parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
SHARED_JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
JENNY = (
    SHARED_JENNY if SHARED_JENNY.is_file() else DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
)
SYNTHEA = sorted((SHARED / "synthea").glob("*.json")) if SHARED.is_dir() else []
SHARED_BUNDLES = sorted((SHARED / "mcode").glob("Bundle-*.json")) + SYNTHEA if SHARED.is_dir() else []
needs_shared = pytest.mark.skipif(not SYNTHEA, reason="../shared/data/fhir not available")

HER2 = "Observation/tumor-marker-test-her2-jenny-m"
ANASTROZOLE_ORDER = "MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m"
NEUTROPHILS = "Observation/us-core-observation-lab-neutrophils-jenny-m"
# Died before the record's last date (the default case date): adan 2007-03-25, austin 1989-07-25,
# micah 2020-11-24. Loyd Connelly died 2012-06-16, two days after his record's last date.
DIED_BEFORE_CASE_DATE = ("adan_pulido", "austin_franecki", "micah_schinner")


def synthea(name: str) -> Path:
    return SHARED / "synthea" / f"{name}.json"


def current(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.text.startswith("Current medication")]


def open_questions(findings: list[Finding], record: PatientRecord) -> list[str]:
    sections = draft_sections(findings, picture=build_picture(record), record=record)
    return [q for s in sections for q in s.open_questions]


def data_quality(findings: list[Finding], record: PatientRecord) -> list[Statement]:
    """The statements of the board's data-quality section (where the record's own defects are stated)."""
    sections = draft_sections(findings, picture=build_picture(record), record=record)
    return [st for s in sections if s.kind == SectionKind.data_quality for st in s.statements]


def jenny() -> dict[str, Any]:
    return json.loads(JENNY.read_text())


def planted(bundle: dict[str, Any], tmp_path: Path) -> PatientRecord:
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(bundle))
    return load_record(path)


def add(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    reference = f"{resource['resourceType']}/{resource['id']}"
    bundle["entry"].append({"fullUrl": f"http://example.org/fhir/{reference}", "resource": resource})
    return reference


def resource(bundle: dict[str, Any], reference: str) -> dict[str, Any]:
    kind, rid = reference.split("/")
    return next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == kind and e["resource"]["id"] == rid
    )


# --- medications ------------------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("name", DIED_BEFORE_CASE_DATE)
def test_patient_dead_by_the_case_date_has_no_current_medication(name: str) -> None:
    """Their records still hold orders marked active (1967–2017): listed, never current."""
    record = load_record(synthea(name))
    findings = ehr_findings(record)
    assert current(findings) == []
    assert build_picture(record).patient.deceased
    [stale] = [f for f in findings if "stale" in f.tags]
    assert stale.text.startswith("Not current: the patient died on ")
    assert stale.section == SectionKind.discrepancies_and_open_questions
    # the board states it once, as data quality (not as an open question): every order, not current
    [stated] = [s for s in data_quality(findings, record) if stale.id in s.finding_ids]
    died = stale.text.removeprefix("Not current: the patient died on ").split(";")[0]
    assert stated.text.startswith(f"Medication records active after the patient died ({died}), not current: ")
    listed = stale.text.split("medication records with no stop: ", 1)[1].rstrip(".")
    assert stated.text.endswith(f": {listed}.")
    assert {e.reference for e in stale.evidence} <= {e.reference for e in stated.evidence}
    assert stale.text not in open_questions(findings, record)


@needs_shared
def test_a_death_after_the_case_date_leaves_current_only_what_was_current() -> None:
    """Loyd Connelly died 2012-06-16; on his last day of care (2012-06-14) he had IV furosemide.
    At that case date it was current; the record's own 'now' counts the death, so by default —
    and at any case date after the death — nothing is."""
    record = load_record(synthea("loyd_connelly"))
    before_death = current(ehr_findings(record, build_picture(record, case_date="2012-06-14")))
    assert [f.text for f in before_death] == ["Current medication: furosemide (last evidence 2012-06-14)."]
    assert current(ehr_findings(record)) == []
    assert current(ehr_findings(record, build_picture(record, case_date="2012-07-01"))) == []


@needs_shared
def test_decades_old_active_orders_are_an_open_question_not_current() -> None:
    """Andy Schaden's docetaxel and leuprolide orders (2000) are still 'active' in 2021."""
    record = load_record(synthea("andy_schaden"))
    findings = ehr_findings(record)
    assert current(findings) == []
    [stale] = [f for f in findings if "stale" in f.tags]
    assert stale.text.startswith(
        "Orders still marked active without recent evidence (not current at 2021-02-25)"
    )
    assert "docetaxel (last evidence 2000-03-10)" in stale.text
    picture = build_picture(record)
    sources = {s for m in picture.medications if m.status == "stale" for s in m.sources}
    assert {e.reference for e in stale.evidence} == sources


def test_current_medication_carries_the_pictures_status_and_sources() -> None:
    record = load_record(JENNY)
    [anastrozole] = current(ehr_findings(record))
    assert anastrozole.text == "Current medication: anastrozole (last evidence 2018-09-30)."
    assert anastrozole.section == SectionKind.medications
    assert anastrozole.claim == MedicationClaim(
        ingredient="anastrozole", status="current", last_evidence_date="2018-09-30", facts=[ANASTROZOLE_ORDER]
    )


def test_a_planted_stopping_statement_removes_the_current_finding(tmp_path: Path) -> None:
    """A MedicationStatement says anastrozole was stopped for arthralgia after the active order."""
    bundle = jenny()
    order = resource(bundle, ANASTROZOLE_ORDER)
    stopped = add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "anastrozole-stopped",
            "status": "stopped",
            "statusReason": [{"text": "Arthralgia"}],
            "medicationCodeableConcept": copy.deepcopy(order["medicationCodeableConcept"]),
            "subject": order["subject"],
            "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
        },
    )
    findings = ehr_findings(planted(bundle, tmp_path))
    assert current(findings) == []
    [stop] = [f for f in findings if f.category == FindingCategory.medication and "anastrozole" in f.text]
    assert stop.text == "Stopped medication: anastrozole (last evidence 2018-10-20)."
    assert isinstance(stop.claim, MedicationClaim) and stop.claim.status == "stopped"
    assert {ANASTROZOLE_ORDER, stopped} <= {e.reference for e in stop.evidence}


def test_an_order_on_hold_is_not_called_current(tmp_path: Path) -> None:
    bundle = jenny()
    resource(bundle, ANASTROZOLE_ORDER)["status"] = "on-hold"
    findings = ehr_findings(planted(bundle, tmp_path))
    assert current(findings) == []
    [held] = [f for f in findings if "anastrozole" in f.text]
    assert held.text == "Medication on hold: anastrozole (last evidence 2018-09-30) (status on-hold)."
    assert held.claim is None  # the claim vocabulary has no "on hold"


# --- biomarkers -------------------------------------------------------------------------------


def test_a_planted_discordant_her2_states_both_results(tmp_path: Path) -> None:
    bundle = jenny()
    second = copy.deepcopy(resource(bundle, HER2))
    second.pop("text", None)
    second["id"] = "her2-second"
    second["valueCodeableConcept"] = {
        "coding": [{"system": "http://loinc.org", "code": "LA6576-8", "display": "Positive"}]
    }
    positive = add(bundle, second)
    findings = ehr_findings(planted(bundle, tmp_path))
    her2 = [f for f in findings if "HER2" in f.text]
    assert [f.text for f in her2] == [
        "HER2: conflicting results — Negative (2018-03-10), Positive (2018-03-10)."
    ]
    claim = her2[0].claim
    assert isinstance(claim, ResultClaim) and claim.kind == "biomarker"
    assert [(r.value, r.date, r.source) for r in claim.results] == [
        ("Negative", "2018-03-10", HER2),
        ("Positive", "2018-03-10", positive),
    ]
    assert claim.cancer == "Condition/primary-cancer-condition-jenny-m"
    assert {HER2, positive} <= {e.reference for e in her2[0].evidence}


def test_an_agreeing_biomarker_states_its_latest_result() -> None:
    findings = ehr_findings(load_record(JENNY))
    [her2] = [f for f in findings if "HER2" in f.text]
    assert her2.text == "HER2 [Interpretation] in Tissue: Negative on 2018-03-10."
    assert isinstance(her2.claim, ResultClaim)
    assert [(r.value, r.source) for r in her2.claim.results] == [("Negative", HER2)]


# --- stages, diagnoses, vital status ------------------------------------------------------------


@needs_shared
def test_a_stage_in_the_diagnosis_name_is_a_stage() -> None:
    """Austin Franecki: "Non-small cell carcinoma of lung, TNM stage 1 (disorder)" restates his
    NSCLC. One cancer, one diagnosis, stage I from the name, and no 'No staging' question."""
    record = load_record(synthea("austin_franecki"))
    picture = build_picture(record)
    findings = ehr_findings(record, picture)
    [named] = [c for c in picture.cancers[0].conditions if c != picture.cancers[0].condition]
    diagnoses = [f for f in findings if f.text.startswith("Cancer diagnosis")]
    assert [f.text for f in diagnoses] == [
        "Cancer diagnosis: Non-small cell lung cancer (disorder), onset 1985-07-25 (active)."
    ]
    [stage] = [f for f in findings if isinstance(f.claim, StageClaim)]
    assert stage.claim == StageClaim(
        cancer=picture.cancers[0].condition, type="unspecified", group="I", facts=[named]
    )
    assert stage.text == "Non-small cell lung cancer (disorder): stage I on 1985-07-26."
    questions = open_questions(findings, record)
    assert not any(q.startswith("No staging") for q in questions)
    assert not any(q.startswith("No staging") for q in missing_information(findings, picture))


def test_every_stage_by_type() -> None:
    findings = ehr_findings(load_record(JENNY))
    stages = {(f.claim.type, f.claim.group) for f in findings if isinstance(f.claim, StageClaim)}
    assert stages == {("clinical", "IIB"), ("clinical", "cT3 cN0 cM0"), ("unspecified", "IIIC")}


@needs_shared
def test_vital_status_from_the_picture() -> None:
    findings = ehr_findings(load_record(synthea("austin_franecki")))
    [vital] = [f for f in findings if isinstance(f.claim, VitalStatusClaim)]
    assert vital.text == "Deceased on 1989-07-25; cause of death: Non-small cell lung cancer (disorder)."
    assert vital.claim.deceased and vital.claim.date == "1989-07-25"
    assert not any("deceased" in f.text for f in findings if f.category == FindingCategory.demographics)


# --- what the picture keeps out -----------------------------------------------------------------


def test_an_implausible_value_is_a_data_quality_statement_not_a_lab() -> None:
    """Jenny's "Neutrophils 3000 10*3/uL" (3 million per microlitre)."""
    record = load_record(JENNY)
    findings = ehr_findings(record)
    assert not any(NEUTROPHILS in {e.reference for e in f.evidence} for f in findings if f.category == "lab")
    [flag] = [f for f in findings if "implausible_value" in f.tags]
    assert [e.reference for e in flag.evidence] == [NEUTROPHILS]
    [stated] = [s for s in data_quality(findings, record) if flag.id in s.finding_ids]
    assert stated.text == "Neutrophils [#/volume] in Blood: 1 implausible value, 2018-05-20 (3000 10*3/uL)."
    assert [e.reference for e in stated.evidence] == [NEUTROPHILS]
    assert flag.text not in open_questions(findings, record)


@needs_shared
@pytest.mark.parametrize("name", [p.stem for p in SYNTHEA])
def test_no_synthea_lab_the_picture_calls_implausible_is_stated(name: str) -> None:
    """Synthea writes total protein in g/dL with g/L numbers ("Protein 76.21 g/dL")."""
    record = load_record(synthea(name))
    picture = build_picture(record)
    implausible = {s for d in picture.data_quality if d.kind == "implausible_value" for s in d.sources}
    stated = {
        e.reference
        for f in ehr_findings(record, picture)
        if f.category in {"lab", "vital"}
        for e in f.evidence
    }
    assert implausible and not stated & implausible


def test_nothing_after_the_case_date_is_stated() -> None:
    """At 2018-06-01 Jenny's anastrozole (ordered 2018-09-30) is in the future: not current, and no
    finding rests on a fact dated after that day."""
    record = load_record(JENNY)
    picture = build_picture(record, case_date="2018-06-01")
    findings = ehr_findings(record, picture)
    assert not any("anastrozole" in f.text for f in current(findings))
    dated = [f for f in findings if f.date and "stale" not in f.tags]
    assert dated and all(iso_day(f.date) <= "2018-06-01" for f in dated)


# --- claims and the synthesizer -----------------------------------------------------------------


@pytest.mark.parametrize("path", SHARED_BUNDLES or [JENNY], ids=lambda p: p.stem)
def test_every_claim_rests_on_the_findings_evidence(path: Path) -> None:
    findings = ehr_findings(load_record(path))
    claimed = [f for f in findings if f.claim is not None]
    assert claimed
    for finding in claimed:
        assert finding.claim is not None
        assert set(finding.claim.facts) <= {e.reference for e in finding.evidence}, finding.text


def test_a_statement_restating_one_finding_carries_its_claim() -> None:
    findings = [f for f in ehr_findings(load_record(JENNY)) if f.claim is not None]
    one, two = findings[0], findings[1]
    assert statement_for("patient", [one]).claim == one.claim
    assert statement_for("patient", [one], text=one.text).claim == one.claim
    assert statement_for("patient", [one], text="In other words.").claim is None
    assert statement_for("patient", [one, two]).claim is None
    sections = draft_sections(findings, picture=build_picture(load_record(JENNY)))
    by_id = {f.id: f for f in findings}
    # the board restates a finding as it is (with its claim), or builds a statement from the
    # picture (a headline, a grouped data-quality line), which carries only the claim it is given
    restating = [
        s
        for section in sections
        for s in section.statements
        if len(s.finding_ids) == 1 and s.text == by_id[s.finding_ids[0]].text
    ]
    assert len(restating) >= 10 and all(s.claim == by_id[s.finding_ids[0]].claim for s in restating)


def test_gaps_name_the_cancer_and_read_the_picture() -> None:
    record = load_record(JENNY)
    picture = build_picture(record)
    gaps = missing_information(ehr_findings(record, picture), picture)
    assert not any(g.startswith(("No staging", "No tumour biomarkers")) for g in gaps)
    bare = picture.model_copy(update={"cancers": [picture.cancers[0].model_copy(update={"stages": []})]})
    assert missing_information([], bare)[0] == (
        "No staging (TNM or stage group) is recorded for "
        "Primary malignant neoplasm of female left breast (disorder)."
    )
