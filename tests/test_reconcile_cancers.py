"""`cancers_of`: each cancer with what belongs to it, on real records and planted variations of them.

Real data: Jenny M's mCODE bundle (tests/data/fhir), the mCODE NSCLC / brain-metastasis examples and
the Synthea cancer patients (../shared/data/fhir). Variations (a second HER2 result, a death date,
a second cancer) are planted by editing the loaded bundle's JSON, never by building facts by hand.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medboard.models.picture import Cancer, PatientStatus
from medboard.tools.fhir import load_record
from medboard.tools.reconcile import build_picture
from medboard.tools.reconcile.cancers import cancers_of
from medboard.tools.reconcile.knowledge import SERUM_MARKERS, stage_in_text

DATA = Path(__file__).resolve().parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
JENNY_CONDITION = "Condition/primary-cancer-condition-jenny-m"
HER2 = "Observation/tumor-marker-test-her2-jenny-m"
PSA_CODES = {code for code, (name, _) in SERUM_MARKERS.items() if "PSA" in name}

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/fhir not available")


def _synthea(name: str) -> Path:
    return SHARED / "synthea" / name


def _bundle(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _cancers(source: Path | dict[str, Any], case_date: str | None = None) -> list[Cancer]:
    return build_picture(load_record(source), case_date=case_date).cancers


def _resource(bundle: dict[str, Any], reference: str) -> dict[str, Any]:
    kind, rid = reference.split("/", 1)
    return next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == kind and e["resource"]["id"] == rid
    )


def _plant(bundle: dict[str, Any], resource: dict[str, Any]) -> None:
    bundle["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})


# --- Jenny M: breast cancer with staging, receptors and two lines ------------------------------


def test_jenny_breast_cancer_with_stages_by_type_and_receptors() -> None:
    (cancer,) = _cancers(JENNY)
    assert cancer.condition == JENNY_CONDITION
    assert cancer.kind == "primary" and cancer.laterality == "left"
    assert "Infiltrating duct carcinoma" in (cancer.histology or "")
    stages = {(s.type, s.group): s.sources for s in cancer.stages}
    assert stages[("clinical", "IIB")] == ["Observation/tnm-clinical-stage-group-jenny-m"]
    assert stages[("clinical", "cT3 cN0 cM0")] == [
        "Observation/tnm-clinical-primary-tumor-category-jenny-m",
        "Observation/tnm-clinical-regional-nodes-category-jenny-m",
        "Observation/tnm-clinical-distant-metastases-category-jenny-m",
    ]
    # the condition's own stage summary is a source too (it says IIIC: both are kept, not one chosen)
    assert stages[("unspecified", "IIIC")] == [JENNY_CONDITION]
    receptors = {b.name: b for b in cancer.biomarkers}
    assert {"ER", "PR", "HER2"} <= set(receptors)
    assert [(r.value, r.date, r.source) for r in receptors["HER2"].results] == [
        ("Negative", "2018-03-10", HER2)
    ]
    assert receptors["ER"].results[0].value == "Positive" and receptors["PR"].results[0].value == "Negative"
    assert not any(b.conflict for b in cancer.biomarkers)
    assert cancer.markers == []  # no serum marker of breast cancer in the record


def test_jenny_lines_cite_only_their_own_orders_and_the_current_one_is_current() -> None:
    (cancer,) = _cancers(JENNY)
    chemo, endocrine = cancer.lines
    assert sorted(chemo.drugs) == ["cyclophosphamide", "doxorubicin", "paclitaxel"]
    assert all(s.split("-")[-3] in chemo.drugs for s in chemo.sources if "request" in s)
    assert chemo.status == "stopped" and chemo.end == "2018-09-30"
    assert endocrine.drugs == ["anastrozole"] and endocrine.status == "current"
    assert endocrine.sources == ["MedicationRequest/cancer-related-medication-request-anastrozole-jenny-m"]


# --- biomarker conflicts: planted second HER2 results ------------------------------------------


def _with_second_her2(code: str, display: str) -> list[Cancer]:
    bundle = _bundle(JENNY)
    second = copy.deepcopy(_resource(bundle, HER2))
    second["id"] = "tumor-marker-test-her2-jenny-m-second-specimen"
    second["valueCodeableConcept"] = {
        "coding": [{"system": "http://loinc.org", "code": code, "display": display}]
    }
    _plant(bundle, second)
    return _cancers(bundle)


def test_discordant_her2_on_the_same_date_is_a_conflict_and_both_results_are_kept() -> None:
    (cancer,) = _with_second_her2("LA6576-8", "Positive")
    (her2,) = [b for b in cancer.biomarkers if b.name == "HER2"]
    assert her2.conflict is True
    assert {(r.value, r.source) for r in her2.results} == {
        ("Negative", HER2),
        ("Positive", "Observation/tumor-marker-test-her2-jenny-m-second-specimen"),
    }
    assert len({r.date for r in her2.results}) == 1


def test_a_repeat_her2_that_agrees_is_not_a_conflict() -> None:
    (cancer,) = _with_second_her2("LA6577-6", "Negative")
    (her2,) = [b for b in cancer.biomarkers if b.name == "HER2"]
    assert len(her2.results) == 2 and her2.conflict is False
    assert not any(b.conflict for b in cancer.biomarkers)


# --- stage in the condition's own name ----------------------------------------------------------


def test_stage_read_from_a_diagnosis_name() -> None:
    assert stage_in_text("Non-small cell carcinoma of lung, TNM stage 1 (disorder)") == "I"
    assert stage_in_text("American Joint Committee on Cancer stage IIIC (qualifier value)") == "IIIC"
    assert stage_in_text("Breast cancer stage IIA") == "IIA"
    assert stage_in_text("Staging of lung cancer") is None


@needs_shared
def test_nsclc_whose_name_carries_the_stage_has_that_stage_with_the_condition_as_source() -> None:
    record = load_record(_synthea("austin_franecki.json"))
    staged = next(f for f in record.facts if "TNM stage 1" in f.label)
    (lung,) = build_picture(record).cancers  # "Suspected lung cancer" is not a cancer
    assert staged.reference in lung.conditions
    stage = next(s for s in lung.stages if s.group == "I")
    assert stage.type == "unspecified" and stage.sources == [staged.reference]
    assert lung.stages, "a stage stated in the condition's name is not 'no staging recorded'"


@needs_shared
def test_secondary_linked_by_condition_reference_is_a_metastatic_site_of_its_primary() -> None:
    mcode = SHARED / "mcode"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": json.loads((mcode / name).read_text())}
            for name in (
                "Condition-primary-cancer-condition-nsclc.json",
                "Condition-secondary-cancer-condition-brain-mets.json",
                "MedicationRequest-cancer-related-medication-request-gefitinib.json",
            )
        ],
    }
    primary, secondary = _cancers(bundle)
    assert primary.kind == "primary" and secondary.kind == "secondary"
    assert primary.metastatic_sites == ["brain"]
    assert [s.group for s in primary.stages] == ["IIIC"]
    assert [line.drugs for line in primary.lines] == [["gefitinib"]] and secondary.lines == []


# --- markers and lines never cross cancers -------------------------------------------------------


def _psa_refs(path: Path) -> set[str]:
    return {
        f"Observation/{r['id']}"
        for r in (e["resource"] for e in _bundle(path)["entry"])
        if r["resourceType"] == "Observation"
        and any(c.get("code") in PSA_CODES for c in r.get("code", {}).get("coding", []))
    }


@needs_shared
def test_psa_of_a_patient_without_prostate_cancer_lands_on_no_cancer() -> None:
    path = _synthea("austin_franecki.json")
    assert _psa_refs(path), "the record has PSA results"
    (lung,) = _cancers(path)
    assert lung.markers == []
    assert not any(r.source in _psa_refs(path) for c in [lung] for b in c.biomarkers for r in b.results)


def _loyd_with_colon_cancer() -> dict[str, Any]:
    """Loyd Connelly (prostate cancer) with a colon cancer planted at his FOLFOX's start."""
    bundle = _bundle(_synthea("loyd_connelly.json"))
    prostate = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Condition" and "Carcinoma in situ of prostate" in json.dumps(e)
    )
    colon = copy.deepcopy(prostate)
    colon["id"] = "planted-colon-cancer"
    colon["code"] = {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "93761005",
                "display": "Primary malignant neoplasm of colon",
            }
        ],
        "text": "Primary malignant neoplasm of colon",
    }
    colon["onsetDateTime"] = "1983-07-01T06:29:54+00:00"
    colon.pop("abatementDateTime", None)
    _plant(bundle, colon)
    return bundle


@needs_shared
def test_two_cancers_each_get_their_own_lines_and_markers() -> None:
    bundle = _loyd_with_colon_cancer()
    record = load_record(bundle)
    cancers = {c.condition: c for c in build_picture(record).cancers}
    colon = cancers["Condition/planted-colon-cancer"]
    (prostate,) = [c for ref, c in cancers.items() if ref != "Condition/planted-colon-cancer"]
    assert [sorted(line.drugs) for line in colon.lines] == [["leucovorin", "oxaliplatin"]]
    assert [sorted(line.drugs) for line in prostate.lines] == [["docetaxel", "leuprolide"]]
    # the colon line's end is its own last order, not the start of the prostate regimen
    assert colon.lines[0].end != prostate.lines[0].start
    own = {line.drugs[0]: set(line.sources) for c in (colon, prostate) for line in c.lines}
    assert not own["leucovorin"] & own["docetaxel"]
    for ref in own["leucovorin"]:
        assert (record.get(ref) or {}).get("medicationCodeableConcept", {}).get("text", "").lower().find(
            "docetaxel"
        ) < 0
    # PSA only on the prostate cancer; nothing on the colon cancer (no CEA in this record)
    assert [m.name for m in prostate.markers] == ["PSA"]
    assert {r.source for r in prostate.markers[0].results} == _psa_refs(_synthea("loyd_connelly.json"))
    assert colon.markers == []


@needs_shared
def test_a_regimen_of_a_cancer_not_in_the_record_is_given_to_no_cancer() -> None:
    (prostate,) = _cancers(_synthea("loyd_connelly.json"))
    assert [sorted(line.drugs) for line in prostate.lines] == [["docetaxel", "leuprolide"]]
    assert prostate.lines[0].start == "2004-05-28"


@needs_shared
@pytest.mark.parametrize(
    "name",
    [
        "adan_pulido.json",
        "andy_schaden.json",
        "austin_franecki.json",
        "darin_skiles.json",
        "loyd_connelly.json",
        "micah_schinner.json",
    ],
)
def test_synthea_psa_only_ever_lands_on_a_prostate_cancer(name: str) -> None:
    for cancer in _cancers(_synthea(name)):
        if any(m.code in PSA_CODES for m in cancer.markers):
            assert "prostat" in " ".join([cancer.name, cancer.body_site or ""]).lower(), cancer.name


# --- a dead patient's lines are not current ------------------------------------------------------


def test_lines_of_a_patient_who_died_are_not_current() -> None:
    bundle = _bundle(JENNY)
    _resource(bundle, "Patient/cancer-patient-jenny-m")["deceasedDateTime"] = "2018-10-15"
    (cancer,) = _cancers(bundle, case_date="2018-11-01")
    assert cancer.lines and all(line.status != "current" for line in cancer.lines)
    assert any("died" in note for line in cancer.lines for note in line.notes)


def test_lines_judged_with_the_passed_patient_status_when_the_record_does_not_say() -> None:
    record = load_record(JENNY)
    alive = cancers_of(record, case_date="2018-11-01", patient=PatientStatus())
    dead = cancers_of(
        record, case_date="2018-11-01", patient=PatientStatus(deceased=True, deceased_date="2018-10-15")
    )
    assert alive[0].lines[-1].status == "current"
    assert dead[0].lines[-1].status == "stale"


@needs_shared
def test_synthea_patient_who_died_has_no_current_line() -> None:
    record = load_record(_synthea("austin_franecki.json"))
    (lung,) = build_picture(record, case_date="1989-07-29").cancers
    assert lung.lines and all(line.status != "current" for line in lung.lines)


def test_orders_follow_their_reason_to_the_right_cancer_when_two_cancers_share_a_drug() -> None:
    """Jenny M with a planted lung cancer: paclitaxel (breast or lung by the drug table) follows its
    reasonReference to the breast; a planted cisplatin order whose reason code names lung cancer
    goes to the lung, and neither cancer's line cites the other's orders."""
    bundle = _bundle(JENNY)
    lung = copy.deepcopy(_resource(bundle, JENNY_CONDITION))
    lung["id"] = "planted-lung-cancer"
    lung["code"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "254637007"}],
        "text": "Non-small cell lung cancer",
    }
    lung.pop("bodySite", None)
    lung.pop("stage", None)
    lung["onsetDateTime"] = "2018-10-01"
    _plant(bundle, lung)
    order = copy.deepcopy(
        _resource(bundle, "MedicationRequest/cancer-related-medication-request-paclitaxel-jenny-m")
    )
    order["id"] = "planted-cisplatin"
    order["medicationCodeableConcept"] = {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "309311",
                "display": "cisplatin 50 MG Injection",
            }
        ]
    }
    order.pop("reasonReference", None)
    order["reasonCode"] = [{"text": "Non-small cell lung cancer"}]
    order["authoredOn"] = "2018-10-05"
    _plant(bundle, order)
    cancers = {c.condition: c for c in _cancers(bundle)}
    breast, lung_cancer = cancers[JENNY_CONDITION], cancers["Condition/planted-lung-cancer"]
    assert [line.drugs for line in lung_cancer.lines] == [["cisplatin"]]
    assert lung_cancer.lines[0].sources == ["MedicationRequest/planted-cisplatin"]
    assert [sorted(line.drugs) for line in breast.lines] == [
        ["cyclophosphamide", "doxorubicin", "paclitaxel"],
        ["anastrozole"],
    ]
    assert "MedicationRequest/planted-cisplatin" not in {s for line in breast.lines for s in line.sources}
    assert breast.biomarkers and not lung_cancer.biomarkers  # receptors on the breast specimen stay there
    assert [s.group for s in lung_cancer.stages] == []  # the breast's staging is not copied over


def test_knowledge_reads_sites_from_codes_and_words_not_from_one_record() -> None:
    from medboard.tools.reconcile.knowledge import DRUG_SITES, drug_kind, site_of_icd, site_of_text

    assert (
        site_of_icd("C50.912") == "breast"
        and site_of_icd("C34.90") == "lung"
        and site_of_icd("C61") == "prostate"
    )
    assert site_of_icd("I10") is None
    assert site_of_text("Hepatocellular carcinoma") == "liver"
    assert site_of_text("Adenocarcinoma of rectum") == "colorectal"
    assert site_of_text("Seminoma of testis") == "germ_cell"
    assert site_of_text("Essential hypertension") is None
    assert DRUG_SITES["enzalutamide"] == {"prostate"} and "lung" in DRUG_SITES["pemetrexed"]
    assert drug_kind("letrozole") == "oral" and drug_kind("goserelin") == "long_acting"
    assert drug_kind("osimertinib") == "oral" and drug_kind("cisplatin") == "cyclic"


@needs_shared
def test_metastasis_named_by_its_origin_links_to_that_primary_without_inventing_a_site() -> None:
    record = load_record(_synthea("adan_pulido.json"))
    prostate, metastasis = build_picture(record).cancers
    assert metastasis.kind == "secondary" and "Metastasis from" in metastasis.name
    assert prostate.kind == "primary" and "prostate" in prostate.name.lower()
    assert prostate.metastatic_sites == ["site not recorded"]  # "from ... prostate" is the origin
    assert [m.name for m in prostate.markers] == ["PSA"] and metastasis.markers == []


def test_left_and_right_primaries_of_one_site_stay_two_cancers() -> None:
    bundle = _bundle(JENNY)
    right = copy.deepcopy(_resource(bundle, JENNY_CONDITION))
    right["id"] = "planted-right-breast-cancer"
    right["code"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "353461000119109"}],
        "text": "Primary malignant neoplasm of female right breast",
    }
    right.pop("bodySite", None)
    right.pop("stage", None)
    _plant(bundle, right)
    cancers = _cancers(bundle)
    assert {(c.condition, c.laterality) for c in cancers} == {
        (JENNY_CONDITION, "left"),
        ("Condition/planted-right-breast-cancer", "right"),
    }
    (left,) = [c for c in cancers if c.laterality == "left"]
    assert [line.drugs for line in left.lines][-1] == ["anastrozole"]  # its orders cite it


@pytest.mark.parametrize(
    ("code", "display", "expected"),
    [
        ("399588009", "Pathologic TNM stage grouping", "pathologic"),
        ("399537006", "Clinical TNM stage group", "clinical"),
        ("1222802005", "Post-therapy TNM stage group", "post_therapy"),
    ],
)
def test_a_linked_stage_group_is_kept_under_its_type(code: str, display: str, expected: str) -> None:
    bundle = _bundle(JENNY)
    group = copy.deepcopy(_resource(bundle, "Observation/tnm-clinical-stage-group-jenny-m"))
    group["id"] = "planted-stage-group"
    group["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]}
    group["valueCodeableConcept"] = {"text": "American Joint Committee on Cancer stage IA"}
    group["effectiveDateTime"] = "2018-06-01"
    group.pop("hasMember", None)
    _plant(bundle, group)
    (cancer,) = _cancers(bundle)
    (planted,) = [s for s in cancer.stages if "Observation/planted-stage-group" in s.sources]
    assert (planted.type, planted.group, planted.date) == (expected, "IA", "2018-06-01")
    assert ("clinical", "IIB") in {(s.type, s.group) for s in cancer.stages}  # the original stays


def test_her2_by_two_methods_that_read_opposite_is_a_conflict_under_both_codes() -> None:
    """A planted HER2 ISH result (another LOINC code, a SNOMED answer) that reads positive."""
    bundle = _bundle(JENNY)
    ish = copy.deepcopy(_resource(bundle, HER2))
    ish["id"] = "planted-her2-ish"
    ish["code"] = {
        "coding": [{"system": "http://loinc.org", "code": "85318-4"}],
        "text": "HER2 [Presence] in Breast cancer specimen by FISH",
    }
    ish["valueCodeableConcept"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "10828004", "display": "Positive"}]
    }
    _plant(bundle, ish)
    (cancer,) = _cancers(bundle)
    her2 = [b for b in cancer.biomarkers if b.name == "HER2"]
    assert {b.code for b in her2} == {"48676-1", "85318-4"} and all(b.conflict for b in her2)
    assert not [b for b in cancer.biomarkers if b.name in ("ER", "PR") and b.conflict]


def test_the_same_reading_coded_in_two_systems_is_not_a_conflict() -> None:
    bundle = _bundle(JENNY)
    repeat = copy.deepcopy(_resource(bundle, HER2))
    repeat["id"] = "planted-her2-repeat-snomed"
    repeat["valueCodeableConcept"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "260385009", "display": "Negative"}]
    }
    _plant(bundle, repeat)
    (cancer,) = _cancers(bundle)
    (her2,) = [b for b in cancer.biomarkers if b.name == "HER2"]
    assert len(her2.results) == 2 and her2.conflict is False


@needs_shared
def test_a_regimen_no_cancer_can_own_is_reported_not_dropped() -> None:
    from medboard.tools.reconcile.cancers import unassigned_therapy

    record = load_record(_synthea("loyd_connelly.json"))
    items = unassigned_therapy(record)
    assert sorted(i.description.split(" ")[0] for i in items) == ["leucovorin", "oxaliplatin"]
    for item in items:
        assert item.kind == "unassigned_therapy" and "colorectal" in item.description
        assert item.sources and all(ref in record for ref in item.sources)
    assert unassigned_therapy(load_record(JENNY)) == []


@needs_shared
def test_cea_goes_to_a_colon_secondary_of_unknown_origin_and_psa_does_not() -> None:
    """Micah Schinner: "Secondary malignant neoplasm of colon", a PSA, and a planted CEA."""
    bundle = _bundle(_synthea("micah_schinner.json"))
    psa = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and "2857-1" in json.dumps(e["resource"].get("code"))
    )
    cea = copy.deepcopy(psa)
    cea["id"] = "planted-cea"
    cea["code"] = {
        "coding": [{"system": "http://loinc.org", "code": "2039-6", "display": "Carcinoembryonic Ag"}]
    }
    _plant(bundle, cea)
    (colon,) = _cancers(bundle)
    assert colon.kind == "secondary"
    assert [(m.name, [r.source for r in m.results]) for m in colon.markers] == [
        ("CEA", ["Observation/planted-cea"])
    ]
