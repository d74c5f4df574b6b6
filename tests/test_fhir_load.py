"""Loading FHIR sources into a PatientRecord: every shared bundle, every source form, references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medboard.models import FactKind
from medboard.tools.fhir import PatientRecord, load_record

DATA = Path(__file__).parent / "data" / "fhir"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fhir"
SHARED_FILES = sorted(SHARED.glob("*/*.json")) if SHARED.is_dir() else []
SYNTHEA = DATA / "synthea" / "loyd_connelly.json"
JENNY = DATA / "mcode" / "Bundle-mcode-patient-bundle-jenny-m.json"


def assert_consistent(record: PatientRecord) -> None:
    """Invariants every record keeps: unique fact ids, evidence that resolves, one subject."""
    ids = [f.id for f in record.facts]
    assert len(ids) == len(set(ids))
    for fact in record.facts:
        assert fact.evidence.reference in record.resources, fact.id
        assert fact.id.split("#")[0] == fact.evidence.reference
        assert fact.subject == record.patient_ref
    assert not [w for w in record.warnings if "could not extract" in w]


@pytest.mark.skipif(not SHARED_FILES, reason="../shared/data/fhir not available")
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_file_loads(path: Path) -> None:
    record = load_record(path)
    assert record.resources
    assert_consistent(record)
    raw = json.loads(path.read_text())
    if raw["resourceType"] == "Bundle":
        assert len(record.resources) == len(raw["entry"])
    else:
        assert f"{raw['resourceType']}/{raw['id']}" in record.resources


def test_synthea_urn_uuid_references_resolve() -> None:
    raw = json.loads(SYNTHEA.read_text())
    record = load_record(SYNTHEA)
    assert record.dangling == []
    urns = {
        entry["fullUrl"]: f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for entry in raw["entry"]
    }
    for urn, key in urns.items():
        assert urn.startswith("urn:uuid:")
        assert record.canonical(urn) == key
        assert record.get(urn) is record.resources[key]
    # a DiagnosticReport's results (urn:uuid in the source) come back as canonical Type/id
    report = next(f for f in record.facts if f.kind is FactKind.report and f.related)
    source = record.resources[report.reference]
    expected = [urns[r["reference"]] for r in source["result"]]
    assert report.related == expected
    assert all(ref in record.resources for ref in report.related)
    # the patient is the Synthea Patient entry, reached through urn:uuid subjects
    patient = next(e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "Patient")
    assert record.patient_ref == f"Patient/{patient['id']}"


def test_bytes_dict_and_text_sources_give_the_same_record() -> None:
    data = JENNY.read_bytes()
    from_path = load_record(JENNY)
    for source in (data, json.loads(data), data.decode()):
        record = load_record(source, name="jenny")
        assert record.source == "jenny"
        assert [f.model_dump() for f in record.facts] == [f.model_dump() for f in from_path.facts]


def test_single_resource_without_patient_warns_about_demographics() -> None:
    record = load_record(DATA / "mcode" / "Condition-secondary-cancer-condition-brain-mets.json")
    assert record.patient_id == "cancer-patient-john-anyperson"
    assert record.patient is None
    assert any("demographics are missing" in w for w in record.warnings)
    condition = record.facts_of("condition")[0]
    assert condition.details.cancer == "secondary"
    assert {d.target for d in record.dangling} >= {"Patient/cancer-patient-john-anyperson"}


def test_folder_of_resources(tmp_path: Path) -> None:
    for name in (
        "Observation-binet-stage-group-B.json",
        "Condition-secondary-cancer-condition-brain-mets.json",
    ):
        (tmp_path / name).write_bytes((DATA / "mcode" / name).read_bytes())
    (tmp_path / "README.txt").write_text("not FHIR, ignored")
    record = load_record(tmp_path)
    assert set(record.resources) == {
        "Observation/binet-stage-group-B",
        "Condition/secondary-cancer-condition-brain-mets",
    }


def test_bulk_ndjson_patient_selection() -> None:
    folder = DATA / "bulk"
    with pytest.raises(Exception) as error:
        load_record(folder)
    assert "p1" in str(error.value) and "p2" in str(error.value)
    record = load_record(folder, patient="p2")
    assert record.patient_id == "p2"
    values = sorted(f.value for f in record.facts_of("tumor_marker"))
    assert values == [1.1, 1.2]
    assert all(key.endswith(("p2", "-0", "-1")) for key in record.resources)
    assert not any("p1" in key for key in record.resources)
    # a single NDJSON file, patient given as a reference
    record = load_record(folder / "Observation.ndjson", patient="Patient/p1")
    assert [f.value for f in record.facts_of("tumor_marker")] == [4.1, 6.3]
    assert record.patient is None  # Patient.ndjson not part of this source


def test_id_less_entry_takes_its_urn_uuid() -> None:
    record = load_record(DATA / "notes_bundle.json")
    patient_urn = "urn:uuid:7d2c6a1e-0b3a-4b6e-9b1f-2f0c2a1d9e11"
    assert record.canonical(patient_urn) == "Patient/7d2c6a1e-0b3a-4b6e-9b1f-2f0c2a1d9e11"
    assert record.patient["id"] == "7d2c6a1e-0b3a-4b6e-9b1f-2f0c2a1d9e11"
    assert "Observation/0c6f4f3e-1a55-4d7e-8a7e-3f1b2a9c0d04" in record.resources
    # the source dict is not modified: the id lives on a copy
    raw = json.loads((DATA / "notes_bundle.json").read_text())
    assert "id" not in raw["entry"][0]["resource"]


def test_dangling_reference_is_reported_not_fatal() -> None:
    record = load_record(DATA / "notes_bundle.json")
    assert [(d.source, d.path, d.target) for d in record.dangling] == [
        ("Procedure/lumpectomy", "Procedure.performer[0].actor", "Practitioner/not-in-bundle")
    ]
    assert any("Practitioner/not-in-bundle" in w for w in record.warnings)


def test_contained_medication_resolves() -> None:
    record = load_record(DATA / "notes_bundle.json")
    medication = record.fact("MedicationRequest/letrozole")
    assert medication.label == "letrozole"
    assert medication.codes[0].code == "72965"
    assert medication.evidence.path == "medicationReference"
    assert record.canonical("MedicationRequest/letrozole#med") == "MedicationRequest/letrozole"
    assert not record.dangling or all(d.target != "#med" for d in record.dangling)


@pytest.mark.slow
def test_large_bundle_loads(tmp_path: Path) -> None:
    """A ~50 MB bundle (Synthea entries repeated under new ids) loads within the default limit."""
    raw = json.loads(SYNTHEA.read_text())
    patient = next(e for e in raw["entry"] if e["resource"]["resourceType"] == "Patient")
    others = [e for e in raw["entry"] if e is not patient]
    entries = [patient]
    size, copy = 0, 0
    one = len(json.dumps(others))
    while size < 50_000_000:
        for entry in others:
            resource = dict(entry["resource"], id=f"{entry['resource']['id'][:28]}-{copy}")
            entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        size += one
        copy += 1
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    assert path.stat().st_size > 45_000_000
    record = load_record(path)
    assert len(record.resources) == len(entries)
    assert len(record.facts_of("lab")) == copy * len(load_record(SYNTHEA).facts_of("lab"))
