"""Build `scenarios/bundled/data/` from the shared real data (../shared/data), reproducibly.

Run from the project root: `.venv/bin/python scenarios/bundled/make_data.py [--shared ../shared/data]`.
Every file it writes is listed with its origin and licence in `data/SOURCES.md`; what it changes is
said here and there:

- Synthea bundles are re-serialised without whitespace (same JSON content, ~40 % of the bytes).
- The mCODE NSCLC and CLL cases are collection bundles of the example resources of their patients
  (NSCLC: John Anyperson's resources that are about his lung cancer — the examples of other cancers
  the package also files under him, such as Wilms or neuroblastoma staging, are left out; CLL: Adam
  Everyman's resources plus the Binet stage example, whose `focus` is his CLL condition but whose
  `subject` names another example patient: its subject is re-pointed to him).
- The head CT keeps 7 of its 28 slices (every 4th), re-encoded losslessly as Deflated Explicit VR
  Little Endian (same pixels): the repository stays a few MB.
- Each planted-fault bundle is a real bundle with ONE conflict planted, the way
  `benchmarks/bench_reconcile.py` plants them; the planted resources' ids start with `planted-`.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
MCODE_BASE = "http://hl7.org/fhir/us/mcode"

NSCLC_RESOURCES = [
    "Patient-cancer-patient-john-anyperson",
    "Condition-primary-cancer-condition-nsclc",
    "Condition-secondary-cancer-condition-brain-mets",
    "Condition-john-anyperson-chf",
    "Condition-john-anyperson-hd",
    "Observation-cancer-related-comorbidities-john-anyperson",
    "Observation-histologic-behavior-and-type-non-small-cell",
    "Observation-histologic-grade-intermediate",
    "Observation-tumor-morphology-report-non-small-cell-intermediate-grade",
    "Observation-tnm-clinical-primary-tumor-category-cT3",
    "Observation-tnm-clinical-regional-nodes-category-cN3",
    "Observation-tnm-clinical-distant-metastases-category-cM0",
    "Observation-tnm-clinical-stage-group-3c",
    "Observation-tumor-marker-test-egf",
    "DiagnosticReport-genomics-report-john-anyperson",
    "Observation-genomic-region-studied-stk11",
    "Observation-genomic-variant-fusion",
    "Observation-genomic-variant-germline-deletion",
    "Observation-genomic-variant-somatic-single-nucleotide",
    "Observation-ecog-performance-status-fully-active",
    "Observation-karnofsky-performance-status-normal-activity",
    "Observation-cancer-disease-status-improved",
    "MedicationRequest-cancer-related-medication-request-cisplatin",
    "MedicationRequest-cancer-related-medication-request-cisplatin-stopped",
    "MedicationRequest-cancer-related-medication-request-gefitinib",
    "Procedure-cancer-related-surgical-procedure-lobectomy",
    "Specimen-human-specimen-lung",
]
CLL_RESOURCES = [
    "Patient-cancer-patient-adam-everyman",
    "Condition-primary-cancer-condition-cll",
    "Condition-primary-cancer-condition-nonspecific",
    "Observation-history-of-cancer-metastatic-to-liver",
    "Observation-lab-result-observation-hemoglobin",
    "Observation-binet-stage-group-B",
]
SYNTHEA = ("micah_schinner", "adan_pulido", "austin_franecki")
CT_SLICES = [f"{n:02d}.dcm" for n in range(1, 29, 4)]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")


def collection(shared: Path, names: list[str], bundle_id: str) -> dict[str, Any]:
    entries = []
    for name in names:
        resource = json.loads((shared / "fhir" / "mcode" / f"{name}.json").read_text())
        entries.append(
            {"fullUrl": f"{MCODE_BASE}/{resource['resourceType']}/{resource['id']}", "resource": resource}
        )
    return {"resourceType": "Bundle", "id": bundle_id, "type": "collection", "entry": entries}


def resource(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == rid)


def add(bundle: dict[str, Any], new: dict[str, Any]) -> None:
    bundle["entry"].append({"fullUrl": f"{MCODE_BASE}/{new['resourceType']}/{new['id']}", "resource": new})


# ------------------------------------------------------------------------------- planted faults


def plant_discordant_er(jenny: dict[str, Any]) -> dict[str, Any]:
    """A second ER test on the resection specimen (2018-04-01) reading Negative: the original
    core-biopsy ER (2018-03-10) says Positive."""
    bundle = copy.deepcopy(jenny)
    er = copy.deepcopy(resource(bundle, "tumor-marker-test-er-jenny-m"))
    er["id"] = "planted-er-negative-resection"
    er.pop("text", None)
    er["effectiveDateTime"] = "2018-04-01"
    er["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": "LA6577-6", "display": "Negative"}]}
    add(bundle, er)
    return bundle


def plant_stopped_anastrozole(jenny: dict[str, Any]) -> dict[str, Any]:
    """She stopped anastrozole on 2018-10-20 (a medication statement: arthralgia), yet a renewal
    order written on 2018-10-28 lists it as active: a stopped drug listed as active."""
    bundle = copy.deepcopy(jenny)
    order = resource(bundle, "cancer-related-medication-request-anastrozole-jenny-m")
    add(
        bundle,
        {
            "resourceType": "MedicationStatement",
            "id": "planted-anastrozole-stopped",
            "status": "stopped",
            "statusReason": [{"text": "Stopped because of arthralgia"}],
            "medicationCodeableConcept": copy.deepcopy(order["medicationCodeableConcept"]),
            "subject": {"reference": "Patient/cancer-patient-jenny-m"},
            "effectivePeriod": {"start": "2018-09-30", "end": "2018-10-20"},
            "dateAsserted": "2018-10-25",
        },
    )
    renewal = copy.deepcopy(order)
    renewal["id"] = "planted-anastrozole-renewal"
    renewal.pop("text", None)
    renewal["authoredOn"] = "2018-10-28"
    renewal["status"] = "active"
    for dosage in renewal.get("dosageInstruction", []):
        dosage.get("timing", {}).get("repeat", {}).pop("boundsPeriod", None)
    add(bundle, renewal)
    return bundle


def plant_laterality(nsclc: dict[str, Any]) -> dict[str, Any]:
    """The lobectomy for the LEFT lung cancer is recorded on the RIGHT lower lobe."""
    bundle = copy.deepcopy(nsclc)
    lobectomy = resource(bundle, "cancer-related-surgical-procedure-lobectomy")
    lobectomy["bodySite"] = [
        {
            "extension": [
                {
                    "url": f"{MCODE_BASE}/StructureDefinition/mcode-laterality-qualifier",
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": SNOMED, "code": "24028007", "display": "Right (qualifier value)"}
                        ]
                    },
                }
            ],
            "coding": [
                {"system": SNOMED, "code": "39607008", "display": "Right lung structure (body structure)"}
            ],
        }
    ]
    return bundle


def plant_care_after_death(cll: dict[str, Any]) -> dict[str, Any]:
    """The patient died on 2021-02-15; a clinic visit and a haemoglobin are recorded after that."""
    bundle = copy.deepcopy(cll)
    patient = resource(bundle, "cancer-patient-adam-everyman")
    patient["deceasedDateTime"] = "2021-02-15"
    patient.pop("deceasedBoolean", None)
    add(
        bundle,
        {
            "resourceType": "Encounter",
            "id": "planted-visit-after-death",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/cancer-patient-adam-everyman"},
            "period": {"start": "2021-03-10T10:00:00Z", "end": "2021-03-10T10:30:00Z"},
        },
    )
    lab = copy.deepcopy(resource(bundle, "lab-result-observation-hemoglobin"))
    lab["id"] = "planted-hemoglobin-after-death"
    lab.pop("text", None)
    lab["effectiveDateTime"] = "2021-03-10"
    lab["valueQuantity"] = {**lab["valueQuantity"], "value": 11.2}
    add(bundle, lab)
    return bundle


# -------------------------------------------------------------------------------------- imaging


def copy_ct(shared: Path) -> None:
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    out = DATA / "imaging" / "ct_head_ge"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in CT_SLICES:
        ds = pydicom.dcmread(shared / "imaging" / "ct_head_ge" / name)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(out / name, enforce_file_format=True)


def copy_mr(shared: Path) -> None:
    out = DATA / "imaging" / "mr_brain_tumor"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("brain1_image.nrrd", "brain1_label.nrrd"):
        shutil.copyfile(shared / "imaging" / "mr_brain_tumor" / name, out / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=HERE.parents[1] / ".." / "shared" / "data")
    args = parser.parse_args(argv)
    shared: Path = args.shared.resolve()
    fhir = DATA / "fhir"
    jenny = json.loads((shared / "fhir" / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json").read_text())
    write_json(fhir / "jenny-m.json", jenny)
    nsclc = collection(shared, NSCLC_RESOURCES, "mcode-nsclc-john-anyperson")
    write_json(fhir / "nsclc-john-anyperson.json", nsclc)
    cll = collection(shared, CLL_RESOURCES, "mcode-cll-adam-everyman")
    resource(cll, "binet-stage-group-B")["subject"] = {"reference": "Patient/cancer-patient-adam-everyman"}
    write_json(fhir / "cll-adam-everyman.json", cll)
    for name in SYNTHEA:
        write_json(
            fhir / f"{name}.json", json.loads((shared / "fhir" / "synthea" / f"{name}.json").read_text())
        )
    planted = DATA / "planted"
    write_json(planted / "jenny-m-discordant-er.json", plant_discordant_er(jenny))
    write_json(planted / "jenny-m-anastrozole-stopped.json", plant_stopped_anastrozole(jenny))
    write_json(planted / "nsclc-laterality.json", plant_laterality(nsclc))
    write_json(planted / "cll-care-after-death.json", plant_care_after_death(cll))
    copy_ct(shared)
    copy_mr(shared)
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    print(f"wrote {DATA} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
