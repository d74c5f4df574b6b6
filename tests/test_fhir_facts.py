"""Typed facts from real records (mCODE, Synthea) and from the synthetic notes bundle.

Expected values are read from the raw JSON in each test, so the assertions check the extractor
against the source, not against a previous run of itself.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from medboard.models import FactKind
from medboard.tools.fhir import load_record

DATA = Path(__file__).parent / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
ADAM = DATA / "mcode" / "Bundle-gx-genomic-bundle-adam-anyperson.json"
SYNTHEA = DATA / "synthea" / "loyd_connelly.json"
NOTES = DATA / "notes_bundle.json"


def raw_resources(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    return [e["resource"] for e in data["entry"]] if data["resourceType"] == "Bundle" else [data]


def loinc(resource: dict) -> set[str]:
    return {c["code"] for c in resource["code"]["coding"] if c.get("system") == "http://loinc.org"}


@pytest.fixture(scope="module")
def jenny():
    return load_record(JENNY)


@pytest.mark.parametrize(("marker", "code"), [("HER2", "48676-1"), ("ER", "85337-4"), ("PR", "85339-0")])
def test_jenny_receptor_status(jenny, marker: str, code: str) -> None:
    source = next(r for r in raw_resources(JENNY) if r["resourceType"] == "Observation" and code in loinc(r))
    fact = jenny.fact(f"Observation/{source['id']}")
    assert fact.kind is FactKind.tumor_marker
    assert fact.details.marker == marker
    expected = source["valueCodeableConcept"]["coding"][0]["display"]
    assert fact.value == expected
    assert fact.value_codes[0].code == source["valueCodeableConcept"]["coding"][0]["code"]
    assert fact.evidence.path == "valueCodeableConcept" and fact.evidence.quote == expected
    assert fact.date == source["effectiveDateTime"]
    assert fact.subject == "Patient/cancer-patient-jenny-m"


def test_jenny_receptor_values(jenny) -> None:
    markers = {f.details.marker: f.value for f in jenny.facts_of("tumor_marker") if f.details.marker}
    assert markers == {"ER": "Positive", "PR": "Negative", "HER2": "Negative"}


def test_jenny_tnm_stage(jenny) -> None:
    staging = {f.details.category: f for f in jenny.facts_of("staging")}
    assert {c: f.details.short for c, f in staging.items()} == {
        "T": "cT3",
        "N": "cN0",
        "M": "cM0",
        "stage_group": "IIB",
    }
    for category, fact in staging.items():
        source = jenny.resources[fact.reference]
        assert fact.value == source["valueCodeableConcept"]["coding"][0]["display"]
        assert fact.details.short in fact.value
        assert fact.details.stage_type == "clinical"
        assert fact.details.system.startswith("American Joint Commission on Cancer")
        if category in ("T", "N", "M"):
            assert fact.label == f"Clinical {category} category"
    group = staging["stage_group"]
    assert group.related == ["Condition/primary-cancer-condition-jenny-m"]
    condition = jenny.fact("Condition/primary-cancer-condition-jenny-m")
    assert condition.details.cancer == "primary"
    assert condition.details.stage == "American Joint Committee on Cancer stage IIIC (qualifier value)"
    assert condition.details.histology.startswith("Infiltrating duct carcinoma")
    assert condition.laterality == "left"
    assert condition.status == "remission" and condition.verification_status == "confirmed"
    assert condition.date == "2018-03-16"


def test_jenny_other_oncology_facts(jenny) -> None:
    ecog = jenny.facts_of("performance_status")[0]
    assert ecog.value == 0 and isinstance(ecog.value, int)
    variant = jenny.fact("Observation/genomic-variant-jenny-m")
    assert variant.kind is FactKind.genomic
    assert variant.details.gene == "PALB2"
    assert variant.details.hgvs_p == "p.Tyr1183Ter"
    assert variant.related == ["DiagnosticReport/genomics-report-jenny-m"]
    surgery = jenny.fact("Procedure/cancer-related-surgical-procedure-jenny-m")
    assert surgery.details.surgery is True and surgery.details.radiotherapy is False
    radiotherapy = jenny.fact("Procedure/radiotherapy-treatment-summary-chest-wall-jenny-m")
    assert radiotherapy.details.radiotherapy is True
    assert (radiotherapy.date, radiotherapy.end_date) == ("2018-08-15", "2018-10-25")
    neutrophils = jenny.fact("Observation/us-core-observation-lab-neutrophils-jenny-m")
    assert neutrophils.kind is FactKind.lab
    assert (neutrophils.value, neutrophils.unit, neutrophils.abnormal) == (3000.0, "10*3/uL", False)
    assert neutrophils.reference_range.low == 2500 and neutrophils.reference_range.high == 5000
    medications = jenny.facts_of("medication")
    assert {m.label.lower() for m in medications} == {
        "cyclophosphamide",
        "doxorubicin",
        "paclitaxel",
        "anastrozole",
    }
    assert all(m.details.resource_type == "MedicationRequest" for m in medications)


def test_synthea_latest_hemoglobin() -> None:
    observations = [
        r for r in raw_resources(SYNTHEA) if r["resourceType"] == "Observation" and "718-7" in loinc(r)
    ]
    latest = max(observations, key=lambda r: r["effectiveDateTime"])
    record = load_record(SYNTHEA)
    hemoglobin = [f for f in record.facts_of("lab") if any(c.code == "718-7" for c in f.codes)]
    assert len(hemoglobin) == len(observations)
    newest = max(hemoglobin, key=lambda f: f.date)
    assert newest.reference == f"Observation/{latest['id']}"
    assert newest.value == latest["valueQuantity"]["value"]
    assert newest.unit == latest["valueQuantity"]["unit"]
    assert newest.unit_code == latest["valueQuantity"]["code"]
    assert newest.date == latest["effectiveDateTime"]
    assert newest.codes[0].system == "http://loinc.org"
    assert newest.evidence.quote == f"{latest['valueQuantity']['value']} {latest['valueQuantity']['unit']}"


def test_synthea_blood_pressure_components_and_imaging() -> None:
    resources = raw_resources(SYNTHEA)
    record = load_record(SYNTHEA)
    panel = next(r for r in resources if r["resourceType"] == "Observation" and "55284-4" in loinc(r))
    for index, component in enumerate(panel["component"]):
        fact = record.fact(f"Observation/{panel['id']}#component[{index}]")
        assert fact.kind is FactKind.vital
        assert fact.value == component["valueQuantity"]["value"]
        assert fact.evidence.path == f"component[{index}]"
        assert fact.codes[0].code == component["code"]["coding"][0]["code"]
    assert record.fact(f"Observation/{panel['id']}") is None
    studies = [r for r in resources if r["resourceType"] == "ImagingStudy"]
    facts = record.facts_of("imaging_study")
    assert len(facts) == len(studies)
    for study in studies:
        fact = record.fact(f"ImagingStudy/{study['id']}")
        assert fact.details.study_uid == study["identifier"][0]["value"].removeprefix("urn:oid:")
        assert fact.details.modalities == [s["modality"]["code"] for s in study["series"]]
        assert fact.details.series[0].uid == study["series"][0]["uid"]
        assert fact.date == study["started"]
    medication = record.facts_of("medication")[0]
    assert medication.codes[0].system == "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_genomics_bundle() -> None:
    record = load_record(ADAM)
    genomic = {f.reference: f for f in record.facts_of("genomic")}
    bap1 = genomic["Observation/gx-genomic-variant-somatic-bap1-indel"]
    assert bap1.details.gene == "BAP1"
    assert bap1.details.hgvs_c == "NM_004656.4:c.1768C>T"
    assert bap1.details.hgvs_p == "NP_004647.1:p.(Gln590Ter)"
    assert bap1.details.source_class == "Somatic"
    therapy = genomic["Observation/gx-genomic-therapeutic-implication-alectinib"]
    assert therapy.details.medication == "alectinib"
    assert "Observation/gx-genomic-variant-fusion-met-alk" in therapy.related
    tmb = genomic["Observation/gx-genomic-tmb"]
    assert isinstance(tmb.value, float)


def test_other_staging_and_performance_status() -> None:
    binet = load_record(DATA / "mcode" / "Observation-binet-stage-group-B.json").facts_of("staging")[0]
    assert binet.details.category == "stage_group"
    assert binet.value == "Binet Stage B" and binet.details.short == "B"
    assert binet.related == ["Condition/primary-cancer-condition-cll"]
    karnofsky = load_record(DATA / "mcode" / "Observation-karnofsky-performance-status-normal-activity.json")
    fact = karnofsky.facts_of("performance_status")[0]
    assert fact.value == 90 and isinstance(fact.value, int)


def test_notes_are_decoded() -> None:
    raw = {r.get("id"): r for r in raw_resources(NOTES)}
    record = load_record(NOTES)
    plain = record.fact("DocumentReference/note-plain")
    expected = base64.b64decode(raw["note-plain"]["content"][0]["attachment"]["data"]).decode()
    assert plain.kind is FactKind.document
    assert plain.text == expected
    assert plain.label == "Progress note"
    assert plain.details.content_type.startswith("text/plain")
    html = record.fact("DocumentReference/note-html")
    assert html.text == "Discharge\n\nHemoglobin 9.8 g/dL & stable.\n\nNo fever"
    assert "<" not in html.text and "p{}" not in html.text
    report = record.fact("DiagnosticReport/path-report")
    assert report.text.startswith(raw["path-report"]["conclusion"])
    assert "FINAL DIAGNOSIS" in report.text
    assert report.value_codes[0].code == "82711006"
    assert report.related == ["Observation/hb-1"]


def test_abnormal_flags_laterality_and_flags() -> None:
    record = load_record(NOTES)
    hb = record.fact("Observation/hb-1")
    assert (hb.interpretation, hb.abnormal) == ("L", True)
    systolic, diastolic = (f for f in record.facts_of("vital"))
    assert systolic.abnormal is True and diastolic.abnormal is False  # 142 > 130; 78 <= 85
    assert systolic.unit == "mmHg" and systolic.unit_code == "mm[Hg]"
    condition = record.fact("Condition/breast-cancer")
    assert condition.details.cancer == "primary"  # ICD-10 C50
    assert condition.laterality == "left" and condition.body_site == "Left breast structure"
    procedure = record.fact("Procedure/lumpectomy")
    assert procedure.details.surgery is True
    assert procedure.related == ["Condition/breast-cancer"]
    assert procedure.details.cancer_related is True
    assert procedure.laterality == "left"
