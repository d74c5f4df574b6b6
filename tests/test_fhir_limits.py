"""Hostile FHIR input: caps, duplicate keys, per-entry containment, no values in errors, dates.

Bombs are generated into tmp_path at test time; small cases live in tests/data/fhir_bad/. Each
asserts the error kind, that the one line names the file and the element path, and that the
offending value is not in it. Subprocess cases run under ``ulimit -v`` with a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medboard.errors import FhirInputError, MedboardInputError
from medboard.limits import LimitExceededError, limits
from medboard.tools.fhir import load_record

BAD = Path(__file__).parent / "data" / "fhir_bad"
GOOD = Path(__file__).parent / "data" / "fhir"
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"}


def bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def observation(rid: str, **extra: object) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final", "code": {"text": "x"}, **extra}


def one_line(error: BaseException, path: Path | str) -> str:
    message = str(error)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 400
    return message


@pytest.fixture(autouse=True)
def _fresh_limits():
    limits.cache_clear()
    yield
    limits.cache_clear()


# --- values are never quoted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("ssn_wrong_type.json", "987654321"),
        ("mrn_in_birthdate.json", "MRN-55501234"),
        ("future_birthdate.json", "2999"),
        ("duplicate_key.json", "9999999"),
    ],
)
def test_offending_values_are_not_quoted(name: str, secret: str) -> None:
    with pytest.raises(FhirInputError) as caught:
        load_record(BAD / name)
    assert secret not in one_line(caught.value, BAD / name)


def test_free_text_keys_and_types_are_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(bundle({"resourceType": "SSN 123-45-6789", "id": "a"})))
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    assert "123-45" not in one_line(caught.value, path)
    path.write_text(json.dumps(bundle(dict(PATIENT, **{"SSN 123-45-6789": 1}))))
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    assert "123-45" not in one_line(caught.value, path) and "unknown element" in str(caught.value)


# --- caps, checked before allocating ---------------------------------------------------------


def test_deep_nesting_is_refused_by_the_depth_cap(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"resourceType": "Bundle", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(LimitExceededError) as caught:
        load_record(path)
    assert "max_json_depth" in one_line(caught.value, path) and "MEDBOARD_MAX_JSON_DEPTH" in str(caught.value)


def test_valid_looking_deep_extensions_are_refused(tmp_path: Path) -> None:
    extension: dict = {"url": "http://example.org/e", "valueString": "a"}
    for _ in range(160):
        extension = {"url": "http://example.org/e", "extension": [extension]}
    path = tmp_path / "ext.json"
    path.write_text(json.dumps(bundle(dict(PATIENT, extension=[extension]))))
    with pytest.raises(LimitExceededError, match="max_json_depth"):
        load_record(path)


def test_brackets_inside_strings_do_not_count_as_depth(tmp_path: Path) -> None:
    tricky = '[[[[{{{{ \\" ' * 40  # brackets and an escaped quote inside one string
    record = load_record(json.dumps(bundle(dict(PATIENT, name=[{"text": tricky}]))).encode())
    assert record.patient["name"][0]["text"] == tricky


def test_deep_extensions_under_a_raised_cap_are_contained(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_JSON_DEPTH", "5000")
    limits.cache_clear()
    extension: dict = {"url": "http://example.org/e", "valueString": "a"}
    for _ in range(400):
        extension = {"url": "http://example.org/e", "extension": [extension]}
    path = tmp_path / "ext.json"
    path.write_text(json.dumps(bundle(dict(PATIENT, extension=[extension]), observation("o1"))))
    with pytest.raises(FhirInputError, match="nested too deeply"):
        load_record(path)
    record = load_record(path, lenient=True)
    assert "Observation/o1" in record.resources and "entry[0]" in record.skipped[0].location


@pytest.mark.parametrize("literal", ["9" * 5000, "1." + "1" * 5000, "-" + "7" * 41])
def test_long_numbers_are_refused_before_conversion(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "number.json"
    path.write_text(
        json.dumps(bundle(observation("o1", valueQuantity={"value": 0}))).replace("0}", literal + "}")
    )
    with pytest.raises(LimitExceededError) as caught:
        load_record(path)
    assert "max_number_chars" in one_line(caught.value, path) and literal[:20] not in str(caught.value)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_numbers_are_refused(tmp_path: Path, constant: str) -> None:
    path = tmp_path / "nan.json"
    path.write_text(
        json.dumps(bundle(observation("o1", valueQuantity={"value": 0}))).replace("0}", constant + "}")
    )
    with pytest.raises(MedboardInputError) as caught:
        load_record(path)
    one_line(caught.value, path)


def test_long_text_is_refused_and_the_cap_is_configurable(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "name.json"
    path.write_text(json.dumps(bundle(dict(PATIENT, name=[{"family": "A" * 2_000_000}]))))
    with pytest.raises(LimitExceededError) as caught:
        load_record(path)
    assert "max_text_chars" in one_line(caught.value, path) and "AAAA" not in str(caught.value)
    monkeypatch.setenv("MEDBOARD_MAX_TEXT_CHARS", str(4_000_000))
    limits.cache_clear()
    assert len(load_record(path).patient["name"][0]["family"]) == 2_000_000


def test_strings_in_arrays_are_capped_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_TEXT_CHARS", "100")
    limits.cache_clear()
    path = tmp_path / "given.json"
    path.write_text(json.dumps(bundle(dict(PATIENT, name=[{"given": ["ok", "B" * 101]}]))))
    with pytest.raises(LimitExceededError, match="max_text_chars"):
        load_record(path)


def test_entry_count_cap(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEDBOARD_MAX_ENTRIES", "10")
    limits.cache_clear()
    path = tmp_path / "many.json"
    path.write_text(json.dumps(bundle(PATIENT, *(observation(f"o{i}") for i in range(11)))))
    with pytest.raises(LimitExceededError) as caught:
        load_record(path)
    assert "max_entries" in one_line(caught.value, path)
    ndjson = tmp_path / "many.ndjson"
    ndjson.write_text("\n".join(json.dumps(observation(f"o{i}")) for i in range(11)))
    with pytest.raises(LimitExceededError, match="max_entries"):
        load_record(ndjson, lenient=True)


def test_devices_and_fifos_are_refused_without_reading(tmp_path: Path) -> None:
    with pytest.raises(FhirInputError, match="not a regular file"):
        load_record("/dev/zero")
    fifo = tmp_path / "pipe.json"
    import os

    os.mkfifo(fifo)
    with pytest.raises(FhirInputError, match=r"pipe \(FIFO\)"):
        load_record(fifo)


# --- duplicates, containment ---------------------------------------------------------------


def test_duplicate_key_in_lenient_mode_skips_only_that_entry() -> None:
    record = load_record(BAD / "duplicate_key.json", lenient=True)
    assert "Observation/n1" not in record.resources and "Patient/p1" in record.resources
    (skipped,) = record.skipped
    assert "entry[1]" in skipped.location and "valueQuantity.value" in skipped.problem
    assert "9999999" not in skipped.problem


def test_duplicate_key_outside_entries_is_refused_even_in_lenient_mode(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    text = json.dumps(bundle(PATIENT)).replace(
        '"type": "collection"', '"type": "collection", "type": "batch"'
    )
    path.write_text(text)
    with pytest.raises(FhirInputError) as caught:
        load_record(path, lenient=True)
    assert one_line(caught.value, path).startswith(f"{path}: type: duplicate JSON key")


def test_duplicate_key_in_ndjson_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dup.ndjson"
    path.write_text(
        json.dumps(PATIENT) + "\n" + '{"resourceType":"Patient","id":"p2","gender":"f","gender":"male"}\n'
    )
    with pytest.raises(FhirInputError, match=r"dup\.ndjson: line 2: gender: duplicate JSON key"):
        load_record(path)


def test_unknown_charset_is_contained_in_lenient_mode() -> None:
    record = load_record(BAD / "unknown_charset.json", lenient=True)
    assert "DocumentReference/note-x" not in record.resources
    assert "unknown charset" in record.skipped[0].problem


def test_extractor_failures_are_contained(tmp_path: Path) -> None:
    # A null where FHIR promises a list is read as absent (FHIR JSON has no nulls).
    concept = {"coding": None, "text": "x"}
    path = tmp_path / "nulls.json"
    path.write_text(json.dumps(bundle(PATIENT, observation("o1", valueCodeableConcept=concept))))
    assert "Observation/o1" in load_record(path).resources


# --- dates that cannot be true ---------------------------------------------------------------


def test_future_birth_is_skipped_in_lenient_mode() -> None:
    with pytest.raises(FhirInputError, match="no resource could be loaded"):
        load_record(BAD / "future_birthdate.json", lenient=True)


def test_dates_before_birth_or_after_today_are_flagged(tmp_path: Path) -> None:
    resources = [
        PATIENT,
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "x"},
            "onsetDateTime": "1950-03-01",
        },
        observation("o2", subject={"reference": "Patient/p1"}, effectiveDateTime="2990-01-01"),
        observation("o3", subject={"reference": "Patient/p1"}, effectiveDateTime="1970"),
    ]
    warnings = load_record(json.dumps(bundle(*resources)).encode()).warnings
    assert any("before the patient's birth (Condition/c1)" in w for w in warnings)
    assert any("after today (Observation/o2)" in w for w in warnings)
    assert not any("o3" in w for w in warnings)  # a partial date in the birth year is not flagged
    assert not any("1950" in w or "2990" in w for w in warnings)


def test_real_records_get_no_date_warnings() -> None:
    for path in sorted((GOOD / "synthea").glob("*.json")) + sorted((GOOD / "mcode").glob("*.json"))[:40]:
        try:
            record = load_record(path)
        except FhirInputError:
            continue  # a lone non-patient resource of the mCODE set
        assert not [w for w in record.warnings if w.startswith("data quality")], path


# --- the CLI: one line, exit 2, bounded -------------------------------------------------------


@pytest.mark.parametrize("make", ["deep", "number", "devzero"])
def test_cli_bombs_end_in_one_line_under_a_memory_limit(tmp_path: Path, make: str) -> None:
    target = {
        "deep": tmp_path / "deep.json",
        "number": tmp_path / "number.json",
        "devzero": Path("/dev/zero"),
    }[make]
    if make == "deep":
        target.write_text("[" * 100_000 + "]" * 100_000)
    elif make == "number":
        target.write_text(
            '{"resourceType": "Patient", "id": "p", "multipleBirthInteger": ' + "9" * 5000 + "}"
        )
    script = f"ulimit -v 2000000; exec {sys.executable} -m medboard record --json {target}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr and str(target) in lines[0]


def test_wrong_json_kinds_are_named_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(dict(PATIENT, meta="SSN-123-45-6789")))
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    message = one_line(caught.value, path)
    assert "Patient.meta: expected a JSON object (got a JSON string)" in message and "123-45" not in message


def test_an_invalid_resource_id_is_never_quoted(tmp_path: Path) -> None:
    """An SSN typed into `id` (spaces make it invalid) is named by the rule, not by its value."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(PATIENT, observation("ssn 555-12-3456"))))
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    message = one_line(caught.value, path)
    assert "555-12-3456" not in message and "id is not a valid FHIR id" in message and "entry[1]" in message


def test_a_lone_surrogate_escape_is_refused_with_its_path(tmp_path: Path) -> None:
    """`\\ud800` parses in Python's json but is not Unicode: refused before it can crash an output."""
    text = json.dumps(bundle({**PATIENT, "name": [{"family": "X"}]})).replace('"X"', '"a\\ud800b"')
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(FhirInputError) as caught:
        load_record(path)
    assert "entry[0].resource.name[0].family" in one_line(caught.value, path)
    # A proper surrogate pair (an astral character written as escapes) is fine.
    path.write_text(text.replace("\\ud800", "\\ud83d\\ude00"))
    assert load_record(path).resources
