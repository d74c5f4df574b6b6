"""The bad-input corpus (tests/data/fhir_bad/, one file per case) and lenient mode.

Every error must name the file, the entry or resource, and the problem, as one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medboard.errors import FhirInputError, MedboardInputError
from medboard.tools.fhir import load_record

BAD = Path(__file__).parent / "data" / "fhir_bad"
GOOD = Path(__file__).parent / "data" / "fhir"

# file -> fragments the message must contain (besides the file name)
CASES = {
    "invalid_json.json": ["invalid JSON at line 4, column 3", "Expecting ',' delimiter"],
    "not_fhir.json": ["not a FHIR document", "no resourceType", "keys: name, labs"],
    "json_array.json": ["not a FHIR document", "got a JSON list"],
    "misspelled_type.json": [
        "entry[1]",
        "Observaton/typo-1",
        "unknown resourceType 'Observaton'",
        "did you mean 'Observation'",
    ],
    "invalid_resource.json": [
        "entry[2]",
        "Observation/bad-value",
        "Observation.valueQuantity.value",
    ],
    "unknown_element.json": ["entry[1]", "Observation/extra", "Observation.valueQuantiti", "unknown element"],
    "empty_bundle.json": ["Bundle/empty", "empty searchset bundle"],
    "two_patients.json": ["2 different patients", "bad-pt", "other-pt", "--patient"],
    "duplicate_ids.json": ["entry[2]", "duplicate id Observation/ok-1", "entry[1]"],
    "bad_base64.json": [
        "entry[1]",
        "DocumentReference/note-1",
        "content[0].attachment.data",
        "not valid base64",
    ],
    "empty_file.json": ["file is empty (0 bytes)"],
    "bad_line.ndjson": ["line 2", "invalid JSON at column"],
    # hardening corpus (issue 15); values never quoted: see tests/test_fhir_limits.py
    "duplicate_key.json": ["entry[1].resource.valueQuantity.value", "duplicate JSON key"],
    "unknown_charset.json": ["entry[1]", "DocumentReference/note-x", "content[0].attachment.contentType"],
    "ssn_wrong_type.json": ["entry[0]", "Patient.identifier[0].value", "valid string"],
    "mrn_in_birthdate.json": ["entry[0]", "Patient.birthDate", "does not match"],
    "future_birthdate.json": ["entry[0]", "Patient.birthDate", "after today"],
    "nan_value.json": ["NaN is not a JSON value"],
}


def test_corpus_is_complete() -> None:
    assert {p.name for p in BAD.iterdir() if p.suffix in (".json", ".ndjson")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_named(name: str) -> None:
    path = BAD / name
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    message = str(caught.value)
    assert isinstance(caught.value, MedboardInputError)
    assert message.startswith(str(path))
    assert "\n" not in message and len(message) < 400
    for fragment in CASES[name]:
        assert fragment in message, (fragment, message)


def test_missing_file() -> None:
    with pytest.raises(FhirInputError, match=r"nope\.json: file does not exist"):
        load_record(BAD / "nope.json")


def test_size_limit(tmp_path: Path) -> None:
    path = GOOD / "notes_bundle.json"
    with pytest.raises(FhirInputError, match=r"notes_bundle\.json: file is .* MB, over the .* MB limit"):
        load_record(path, max_bytes=1000)
    with pytest.raises(FhirInputError, match="over the"):
        load_record(path.read_bytes(), max_bytes=1000)


def test_unknown_patient() -> None:
    with pytest.raises(FhirInputError, match=r"patient 'p9' is not in this source \(patients: p1, p2\)"):
        load_record(GOOD / "bulk", patient="p9")


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        ("invalid_resource.json", "entry[2] (Observation/bad-value)"),
        ("misspelled_type.json", "entry[1] (Observaton/typo-1)"),
        ("duplicate_ids.json", "entry[2] (Observation/ok-1)"),
        ("bad_base64.json", "entry[1] (DocumentReference/note-1)"),
        ("unknown_element.json", "entry[1] (Observation/extra)"),
    ],
)
def test_lenient_skips_the_bad_entry(name: str, skipped: str) -> None:
    record = load_record(BAD / name, lenient=True)
    assert "Patient/bad-pt" in record.resources
    assert [s.location for s in record.skipped] == [f"{BAD / name}: {skipped}"]
    assert record.skipped[0].problem
    assert any("skipped" in w for w in record.warnings)
    assert skipped.split("(")[1].rstrip(")") not in record.resources or name == "duplicate_ids.json"


def test_lenient_keeps_the_first_of_duplicates() -> None:
    record = load_record(BAD / "duplicate_ids.json", lenient=True)
    assert record.resources["Observation/ok-1"]["valueQuantity"]["value"] == 70


def test_lenient_ndjson_and_folder(tmp_path: Path) -> None:
    record = load_record(BAD / "bad_line.ndjson", lenient=True)
    assert list(record.resources) == ["Patient/bad-pt"]
    assert record.skipped[0].location.endswith("bad_line.ndjson: line 2")
    (tmp_path / "good.json").write_text((BAD / "invalid_resource.json").read_text())
    (tmp_path / "broken.json").write_text("{ nope")
    with pytest.raises(FhirInputError, match=r"broken\.json: invalid JSON at line 1"):
        load_record(tmp_path)
    record = load_record(tmp_path, lenient=True)
    assert {s.location for s in record.skipped} == {
        str(tmp_path / "broken.json"),
        f"{tmp_path / 'good.json'}: entry[2] (Observation/bad-value)",
    }


def test_lenient_still_fails_when_nothing_is_usable() -> None:
    with pytest.raises(FhirInputError, match="empty searchset bundle"):
        load_record(BAD / "empty_bundle.json", lenient=True)
    with pytest.raises(FhirInputError, match="2 different patients"):
        load_record(BAD / "two_patients.json", lenient=True)


def test_identical_duplicates_are_merged() -> None:
    data = json.loads((GOOD / "notes_bundle.json").read_text())
    data["entry"].append(data["entry"][3])
    record = load_record(data)
    assert len(record.resources) == len(data["entry"]) - 1


def test_entry_without_resource_type_is_named() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "x"}}]}
    with pytest.raises(FhirInputError, match=r"<dict>: entry\[0\]: not a FHIR resource: no resourceType"):
        load_record(bundle)
    with pytest.raises(FhirInputError, match=r"upload\.json: entry\[0\]"):
        load_record(json.dumps(bundle).encode(), name="upload.json")


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [
        ("observation", "did you mean 'Observation'?"),
        ("MedicationRequst", "did you mean 'MedicationRequest'?"),
        ("Quantity", "unknown resourceType 'Quantity'"),  # a datatype, not a resource
        ("Xyzzy", "unknown resourceType 'Xyzzy'"),
    ],
)
def test_resource_type_suggestions(resource_type: str, expected: str) -> None:
    with pytest.raises(FhirInputError) as caught:
        load_record({"resourceType": resource_type, "id": "a"}, name="one.json")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("one.json: resource")


def test_ndjson_bytes_without_suffix_and_bom() -> None:
    lines = (GOOD / "bulk" / "Patient.ndjson").read_bytes()
    record = load_record(lines, patient="p2")
    assert list(record.resources) == ["Patient/p2"]
    bom = b"\xef\xbb\xbf" + (GOOD / "notes_bundle.json").read_bytes()
    assert load_record(bom).patient is not None


def test_not_utf8() -> None:
    with pytest.raises(FhirInputError, match="not UTF-8 text"):
        load_record(b'{"resourceType": "Patient", "id": "\xff\xfe"}', name="latin1.json")
