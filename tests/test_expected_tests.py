"""Tests a board expects per cancer type, and which of them a record lacks (real records).

The table (`tools/reconcile/expected_tests.py`) asks per cancer for what its type's guideline
calls for; these tests read the shared records and planted variations of Jenny M's real bundle
(a result removed, an unrelated result added) through the real loader and reconciliation.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medboard.models.picture import Cancer
from medboard.tools.fhir import PatientRecord, load_record
from medboard.tools.reconcile import build_picture
from medboard.tools.reconcile.expected_tests import (
    EXPECTATIONS,
    Missing,
    expectation_for,
    is_metastatic,
    missing_tests,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
JENNY = SHARED / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"
pytestmark = pytest.mark.skipif(not JENNY.is_file(), reason="../shared/data/fhir not available")


def synthea(name: str) -> Path:
    return SHARED / "synthea" / f"{name}.json"


def missing_of(record: PatientRecord) -> list[tuple[Cancer, Missing | None]]:
    picture = build_picture(record)
    return [(c, missing_tests(c, record.facts, picture.cancers)) for c in picture.cancers]


def names(missing: Missing | None) -> set[str]:
    return {t.name for t in missing.tests} if missing else set()


def load_bundle(bundle: dict[str, Any], tmp_path: Path) -> PatientRecord:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return load_record(path)


def test_every_expectation_names_its_source_and_tests() -> None:
    for expectation in EXPECTATIONS:
        assert expectation.source and expectation.tests and expectation.cancer_type
        assert len({t.name for t in expectation.tests}) == len(expectation.tests)


def test_nsclc_asks_for_egfr_alk_pdl1_and_the_broad_panel_only_when_metastatic() -> None:
    [(cancer, missing)] = missing_of(load_record(synthea("austin_franecki")))
    assert expectation_for(cancer) is not None and expectation_for(cancer).site == "lung"  # type: ignore[union-attr]
    assert not is_metastatic(cancer)
    assert names(missing) == {"EGFR", "ALK", "PD-L1"}
    assert missing is not None and "NCCN" in missing.question()


def test_breast_with_receptors_recorded_lacks_nothing() -> None:
    [(cancer, missing)] = missing_of(load_record(JENNY))
    assert expectation_for(cancer).cancer_type == "breast cancer"  # type: ignore[union-attr]
    assert missing is None


def test_prostate_asks_for_gleason_and_not_for_a_recorded_psa() -> None:
    [(cancer, missing)] = missing_of(load_record(synthea("loyd_connelly")))
    assert cancer.markers and cancer.markers[0].name == "PSA"
    assert names(missing) == {"Gleason score / grade group"}


def test_metastatic_prostate_adds_germline_and_msi() -> None:
    record = load_record(synthea("adan_pulido"))
    primary = next((c, m) for c, m in missing_of(record) if c.kind == "primary")
    assert is_metastatic(primary[0])
    assert {"BRCA1/2", "MSI/MMR", "Gleason score / grade group"} <= names(primary[1])


def test_colorectal_asks_msi_always_and_ras_braf_her2_when_metastatic() -> None:
    [(_, primary)] = missing_of(load_record(synthea("darin_skiles")))
    assert names(primary) == {"MSI/MMR"}
    [(secondary_cancer, secondary)] = missing_of(load_record(synthea("micah_schinner")))
    assert secondary_cancer.kind == "secondary"
    assert names(secondary) == {"MSI/MMR", "RAS (KRAS/NRAS)", "BRAF", "HER2"}


def test_a_removed_receptor_is_asked_for(tmp_path: Path) -> None:
    bundle = json.loads(JENNY.read_text())
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != "tumor-marker-test-pr-jenny-m"]
    [(_, missing)] = missing_of(load_bundle(bundle, tmp_path))
    assert names(missing) == {"PR"}


def test_an_ecg_pr_interval_is_not_a_progesterone_receptor(tmp_path: Path) -> None:
    bundle = json.loads(JENNY.read_text())
    entries = [e for e in bundle["entry"] if e["resource"]["id"] != "tumor-marker-test-pr-jenny-m"]
    template = next(e for e in entries if e["resource"]["id"] == "bodyweight-jenny-m-2018-03-16")
    ecg = copy.deepcopy(template)
    ecg["resource"]["id"] = "pr-interval-jenny-m"
    ecg["fullUrl"] = "http://example.org/fhir/Observation/pr-interval-jenny-m"
    ecg["resource"]["code"] = {
        "coding": [{"system": "http://loinc.org", "code": "8625-6", "display": "P-R Interval"}],
        "text": "PR interval",
    }
    ecg["resource"]["valueQuantity"] = {
        "value": 160,
        "unit": "ms",
        "system": "http://unitsofmeasure.org",
        "code": "ms",
    }
    bundle["entry"] = [*entries, ecg]
    record = load_bundle(bundle, tmp_path)
    assert any("PR interval" in f.label or "P-R" in f.label for f in record.facts)
    [(_, missing)] = missing_of(record)
    assert names(missing) == {"PR"}


def test_another_cancers_result_does_not_answer_for_this_one(tmp_path: Path) -> None:
    """Jenny's HER2 is her breast cancer's; a stage IV colon cancer planted beside it still lacks
    its own HER2 (and MSI)."""
    bundle = json.loads(JENNY.read_text())
    breast = next(e for e in bundle["entry"] if e["resource"]["id"] == "primary-cancer-condition-jenny-m")
    colon = copy.deepcopy(breast)
    colon["resource"]["id"] = "primary-colon-jenny-m"
    colon["fullUrl"] = "http://example.org/fhir/Condition/primary-colon-jenny-m"
    colon["resource"]["code"] = {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "363406005",
                "display": "Malignant neoplasm of colon",
            }
        ]
    }
    colon["resource"]["stage"] = [{"summary": {"text": "Stage IV"}}]
    for key in ("extension", "bodySite"):
        colon["resource"].pop(key, None)
    bundle["entry"].append(colon)
    record = load_bundle(bundle, tmp_path)
    found = {c.name: m for c, m in missing_of(record)}
    colon_missing = next(m for name, m in found.items() if "colon" in name.lower())
    assert {"HER2", "MSI/MMR"} <= names(colon_missing)
    breast_missing = next(m for name, m in found.items() if "breast" in name.lower())
    assert "HER2" not in names(breast_missing)
