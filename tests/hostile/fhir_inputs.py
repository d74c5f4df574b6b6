"""Hostile FHIR records: deep nesting, huge or non-finite numbers, duplicate keys, bad charsets,
impossible dates, identifiers in invalid places, terminal-control text. All start from the real
Jenny M bundle; each runs through `medboard record --json` or `medboard run`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .corpus import (
    BAD_INPUT,
    FLAGS,
    OK,
    Invocation,
    hostile,
    jenny,
    jenny_text,
    resource,
    run_args,
    splice,
    write_json,
    write_text,
)

DUPLICATE = FLAGS["duplicate-key"]


def _record(path: Path, *extra: str) -> list[str]:
    return ["record", str(path), "--json", *extra]


def _deep(depth: int, open_: str, close: str, core: str = "1") -> str:
    return open_ * depth + core + close * depth


# --- depth ----------------------------------------------------------------------------------


@hostile("json-depth")
def json_nested_100k_deep(tmp: Path) -> Invocation:
    path = write_text(tmp / "deep.json", _deep(100_000, "[", "]"))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-depth")
def json_objects_nested_100k_deep(tmp: Path) -> Invocation:
    path = write_text(tmp / "deep_objects.json", _deep(100_000, '{"a": ', "}"))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-depth")
def json_nested_100k_deep_through_run(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _deep(100_000, "[", "]"))
    return Invocation(run_args(path, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


@hostile("json-depth")
def deep_object_inside_valid_bundle_entry(tmp: Path) -> Invocation:
    text = splice(
        jenny_text(),
        '"resourceType": "Observation", ',
        '"resourceType": "Observation", '
        '"note": [{"text": "x", "extension": ' + _deep(5_000, '{"a": ', "}") + "}], ",
    )
    return Invocation(_record(write_text(tmp / "bundle.json", text)), expect=(BAD_INPUT,))


@hostile("json-depth")
def deep_array_inside_valid_bundle_entry(tmp: Path) -> Invocation:
    text = splice(
        jenny_text(),
        '"resourceType": "Condition", ',
        '"resourceType": "Condition", "note": ' + _deep(20_000, "[", "]") + ", ",
    )
    return Invocation(_record(write_text(tmp / "bundle.json", text)), expect=(BAD_INPUT,))


@hostile("json-depth")
def deep_array_inside_valid_bundle_entry_lenient(tmp: Path) -> Invocation:
    text = splice(
        jenny_text(),
        '"resourceType": "Condition", ',
        '"resourceType": "Condition", "note": ' + _deep(20_000, "[", "]") + ", ",
    )
    path = write_text(tmp / "bundle.json", text)
    return Invocation(_record(path, "--lenient"), expect=(OK, BAD_INPUT))


def _nested_extensions(depth: int) -> dict:
    node: dict = {"url": "http://example.org/leaf", "valueString": "leaf"}
    for level in range(depth):
        node = {"url": f"http://example.org/level{level}", "extension": [node]}
    return node


@hostile("json-depth")
def extensions_nested_150_deep(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Patient")["extension"] = [_nested_extensions(150)]
    return Invocation(_record(write_json(tmp / "bundle.json", bundle)), expect=(BAD_INPUT,))


@hostile("json-depth")
def extensions_nested_400_deep_in_observation(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Observation")["extension"] = [_nested_extensions(400)]
    return Invocation(_record(write_json(tmp / "bundle.json", bundle)), expect=(BAD_INPUT,))


@hostile("json-depth")
def extensions_nested_150_deep_lenient_run(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Observation")["extension"] = [_nested_extensions(150)]
    path = write_json(tmp / "bundle.json", bundle)
    out = tmp / "out"
    return Invocation(run_args(path, out, "--lenient"), expect=(OK, BAD_INPUT), out=out)


@hostile("json-depth")
def modifier_extensions_nested_200_deep(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "MedicationRequest")["modifierExtension"] = [_nested_extensions(200)]
    return Invocation(_record(write_json(tmp / "bundle.json", bundle)), expect=(BAD_INPUT,))


# --- numbers ----------------------------------------------------------------------------------


def _neutrophils_value(replacement: str) -> str:
    text = jenny_text()
    obs = resource(jenny(), "Observation", "us-core-observation-lab-neutrophils-jenny-m")
    value = obs["valueQuantity"]["value"]
    marker = f'"valueQuantity": {{"value": {json.dumps(value)}'
    return splice(text, marker, f'"valueQuantity": {{"value": {replacement}')


@hostile("json-number")
def a_5000_digit_number(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("9" * 5000))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-number")
def a_5000_digit_decimal(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("1." + "3" * 5000))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-number")
def a_5000_digit_integer_in_value_integer(tmp: Path) -> Invocation:
    text = jenny_text()
    text = splice(text, '"valueInteger": 0', '"valueInteger": -' + "7" * 5000)
    return Invocation(_record(write_text(tmp / "bundle.json", text)), expect=(BAD_INPUT,))


@hostile("json-number")
def a_5000_digit_number_through_run(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("9" * 5000))
    out = tmp / "out"
    return Invocation(run_args(path, out), expect=(BAD_INPUT,), out=out)


@hostile("json-number")
def float_1e999(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("1e999"))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-number")
def float_minus_1e999_through_run(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("-1e999"))
    out = tmp / "out"
    return Invocation(run_args(path, out), expect=(BAD_INPUT,), out=out)


@hostile("json-number")
def nan_literal(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("NaN"))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-number")
def infinity_literal(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("Infinity"))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("json-number")
def minus_infinity_literal_through_run(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("-Infinity"))
    out = tmp / "out"
    return Invocation(run_args(path, out), expect=(BAD_INPUT,), out=out)


@hostile("json-number")
def huge_exponent_decimal(tmp: Path) -> Invocation:
    path = write_text(tmp / "bundle.json", _neutrophils_value("1e-99999999999"))
    return Invocation(_record(path), expect=(OK, BAD_INPUT))  # underflows to 0: odd but finite


# --- duplicate keys -------------------------------------------------------------------------------


@hostile("json-duplicate-keys")
def duplicate_keys_at_top_level(tmp: Path) -> Invocation:
    text = splice(jenny_text(), '"type": "collection"', '"type": "collection", "type": "transaction"')
    path = write_text(tmp / "bundle.json", text)
    return Invocation(_record(path), expect=(OK, BAD_INPUT), flag=DUPLICATE)


@hostile("json-duplicate-keys")
def duplicate_keys_in_an_entry(tmp: Path) -> Invocation:
    text = splice(jenny_text(), '"gender": "female"', '"gender": "female", "gender": "male"')
    out = tmp / "out"
    path = write_text(tmp / "bundle.json", text)
    return Invocation(run_args(path, out), expect=(OK, BAD_INPUT), out=out, flag=DUPLICATE)


@hostile("json-duplicate-keys")
def duplicate_keys_in_nested_value_quantity(tmp: Path) -> Invocation:
    obs = resource(jenny(), "Observation", "us-core-observation-lab-neutrophils-jenny-m")
    value = json.dumps(obs["valueQuantity"]["value"])
    path = write_text(tmp / "bundle.json", _neutrophils_value(f'{value}, "value": 9999999'))
    out = tmp / "out"
    return Invocation(run_args(path, out), expect=(OK, BAD_INPUT), out=out, flag=DUPLICATE)


@hostile("json-duplicate-keys")
def duplicate_resource_id_key_in_entry(tmp: Path) -> Invocation:
    text = splice(
        jenny_text(), '"id": "cancer-patient-jenny-m"', '"id": "cancer-patient-jenny-m", "id": "someone-else"'
    )
    return Invocation(_record(write_text(tmp / "bundle.json", text)), expect=(OK, BAD_INPUT), flag=DUPLICATE)


# --- attachments, charsets ------------------------------------------------------------------------


def with_note(charset: str, data: bytes) -> dict:
    bundle = jenny()
    bundle["entry"].append(
        {
            "fullUrl": "http://example.org/fhir/DocumentReference/note-1",
            "resource": {
                "resourceType": "DocumentReference",
                "id": "note-1",
                "status": "current",
                "subject": {"reference": "Patient/cancer-patient-jenny-m"},
                "content": [
                    {
                        "attachment": {
                            "contentType": f"text/plain; charset={charset}",
                            "data": base64.b64encode(data).decode(),
                        }
                    }
                ],
            },
        }
    )
    return bundle


@hostile("attachment")
def attachment_with_an_unknown_charset(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", with_note("x-klingon-9", b"Left breast mass."))
    return Invocation(_record(path), expect=(BAD_INPUT,))


@hostile("attachment")
def attachment_with_an_unknown_charset_lenient(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", with_note("x-klingon-9", b"Left breast mass."))
    out = tmp / "out"
    return Invocation(run_args(path, out, "--lenient"), expect=(OK,), out=out)


@hostile("attachment")
def attachment_with_a_codec_that_is_not_a_charset(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", with_note("rot13", b"Left breast mass."))
    return Invocation(_record(path, "--lenient"), expect=(OK,))


@hostile("attachment")
def attachment_bytes_invalid_for_its_charset(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", with_note("utf-8", b"\xff\xfe\xfa bad"))
    return Invocation(_record(path), expect=(OK, BAD_INPUT))


# --- dates and identifiers --------------------------------------------------------------------------


@hostile("impossible-data")
def birthdate_2999(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Patient")["birthDate"] = "2999-01-01"
    out = tmp / "out"
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(run_args(path, out), expect=(OK, BAD_INPUT), out=out, flag=FLAGS["future-date"])


@hostile("impossible-data")
def condition_onset_before_birth(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Condition")["onsetDateTime"] = "1901-02-03"
    out = tmp / "out"
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(run_args(path, out), expect=(OK, BAD_INPUT), out=out, flag=FLAGS["before-birth"])


@hostile("identifier-leak")
def mrn_in_birthdate(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Patient")["birthDate"] = "MRN-0042-7731"
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(_record(path), expect=(BAD_INPUT,), secrets=("0042-7731",))


@hostile("identifier-leak")
def ssn_identifier_of_the_wrong_type(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Patient")["identifier"] = [
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": 123456789}
    ]
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(_record(path), expect=(BAD_INPUT,), secrets=("123456789",))


@hostile("identifier-leak")
def ssn_identifier_with_a_control_character(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Patient")["identifier"] = [
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "987-65-4321\u0007"}
    ]
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(
        run_args(path, tmp / "out"), expect=(OK, BAD_INPUT), out=tmp / "out", secrets=("987-65-4321",)
    )


@hostile("identifier-leak")
def ssn_as_a_resource_id(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Observation")["id"] = "ssn 555-12-3456 !"
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(_record(path), expect=(BAD_INPUT,), secrets=("555-12-3456",))


# --- terminal control / bidi text in the record ---------------------------------------------------

_HOSTILE_TEXT = "Jenny\x1b[2J\x1b[31m\x07 \u202eg m 0.1\u202c \x1b]0;pwned\x07"


def _hostile_text_bundle() -> dict:
    bundle = jenny()
    patient = resource(bundle, "Patient")
    patient["name"] = [{"given": [_HOSTILE_TEXT], "family": "M\u2066\u202e"}]
    condition = resource(bundle, "Condition")
    condition["code"]["text"] = "Breast cancer \x1b[8m(hidden)\x1b[0m \u202eevil"
    return bundle


@hostile("control-characters")
def ansi_bel_bidi_in_record_text_record_table(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", _hostile_text_bundle())
    return Invocation(["record", str(path)], expect=(OK,))


@hostile("control-characters")
def ansi_bel_bidi_in_record_text_run(tmp: Path) -> Invocation:
    path = write_json(tmp / "bundle.json", _hostile_text_bundle())
    out = tmp / "out"
    return Invocation(run_args(path, out), expect=(OK,), out=out)


@hostile("control-characters")
def nul_character_in_record_text(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Condition")["code"]["text"] = "Breast\u0000cancer\u0000"
    out = tmp / "out"
    return Invocation(run_args(write_json(tmp / "bundle.json", bundle), out), expect=(OK, BAD_INPUT), out=out)


@hostile("control-characters")
def control_characters_in_a_missing_file_name(tmp: Path) -> Invocation:
    return Invocation(["record", str(tmp / "evil\x1b[31m\u202e.json")], expect=(BAD_INPUT,))


@hostile("control-characters")
def control_characters_in_a_bad_file_name(tmp: Path) -> Invocation:
    path = write_text(tmp / "bad\x1b]0;title\x07\u202e.json", "{not json")
    return Invocation(run_args(path, tmp / "out"), expect=(BAD_INPUT,), out=tmp / "out")


# --- size -------------------------------------------------------------------------------------------


@hostile("size", slow=True)
def a_100k_entry_bundle(tmp: Path) -> Invocation:
    """100,000 small Observations (under max_entries): loads in bounded memory, or is refused."""
    bundle = jenny()
    real = resource(bundle, "Observation", "us-core-observation-lab-neutrophils-jenny-m")
    # the real lab result, trimmed to its essentials (~300 bytes: the file stays ~30 MB)
    template = {key: real[key] for key in ("resourceType", "status", "code", "subject", "valueQuantity")}
    template["effectiveDateTime"] = "2018-03-16"
    entries = bundle["entry"]
    for i in range(100_000):
        entries.append({"resource": dict(template, id=f"n{i}")})
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(["record", str(path)], expect=(OK, BAD_INPUT), timeout=150, slow=True)


@hostile("size", slow=True)
def a_100k_entry_bundle_through_run(tmp: Path) -> Invocation:
    """The issue's 3.9 GB case: the whole flow over 100,000 entries, under the 2 GiB cap."""
    record = a_100k_entry_bundle(tmp)
    out = tmp / "out"
    return Invocation(run_args(record.args[1], out), expect=(OK, BAD_INPUT), out=out, timeout=150, slow=True)


@hostile("size")
def a_huge_string_over_the_cap(tmp: Path) -> Invocation:
    bundle = jenny()
    resource(bundle, "Condition")["code"]["text"] = "x" * (8 * 1024 * 1024)
    path = write_json(tmp / "bundle.json", bundle)
    return Invocation(
        ["record", str(path)], expect=(BAD_INPUT,), env={"MEDBOARD_MAX_STRING_CHARS": "1000000"}
    )
