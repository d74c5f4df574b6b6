"""Property: any FHIR input, however mangled, loads or fails with one clean `MedboardError` line.

Hypothesis builds valid skeletons of the resources medboard reads most (Patient, Observation,
Condition, MedicationRequest, DiagnosticReport) inside a Bundle, then breaks them the ways real
and hostile data do: wrong JSON types, missing required fields, odd Unicode (controls, bidi,
surrogate escapes, astral), extensions nested deep, huge or non-finite numbers, duplicate keys,
truncation. `load_record` must either return a record or raise a `medboard.errors.MedboardError`
whose message is one line: never a `RecursionError`, `ValueError`, `KeyError`, … .

Runs in-process (fast), derandomized (reproducible in CI), with a bounded address space.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hostile.fuzz import assert_clean, bounded_memory  # noqa: F401  (fixture)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from medboard.errors import MedboardError
from medboard.tools.fhir import load_record

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    # no 'explain' phase: re-running deep-recursion failures to explain them takes minutes
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PATIENT_REF = {"reference": "Patient/p1"}
CODE = {"coding": [{"system": "http://loinc.org", "code": "751-8", "display": "Neutrophils"}], "text": "ANC"}


def skeletons() -> dict[str, dict[str, Any]]:
    """Fresh, valid R4 resources (deep copies: mutations never leak between examples)."""
    return copy.deepcopy(_SKELETONS)


_SKELETONS: dict[str, dict[str, Any]] = {
    "Patient": {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "female",
        "birthDate": "1965-01-01",
        "name": [{"given": ["Jenny"], "family": "M"}],
    },
    "Observation": {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": CODE,
        "subject": PATIENT_REF,
        "effectiveDateTime": "2018-03-16",
        "valueQuantity": {
            "value": 4.5,
            "unit": "10*3/uL",
            "system": "http://unitsofmeasure.org",
            "code": "10*3/uL",
        },
    },
    "Condition": {
        "resourceType": "Condition",
        "id": "c1",
        "subject": PATIENT_REF,
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "353431000119107"}],
            "text": "Primary malignant neoplasm of female left breast",
        },
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "onsetDateTime": "2018-03-16",
    },
    "MedicationRequest": {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": PATIENT_REF,
        "authoredOn": "2018-04-01",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3002"}],
            "text": "cyclophosphamide",
        },
    },
    "DiagnosticReport": {
        "resourceType": "DiagnosticReport",
        "id": "d1",
        "status": "final",
        "code": CODE,
        "subject": PATIENT_REF,
        "effectiveDateTime": "2018-03-16",
        "conclusion": "No abnormality.",
    },
}


odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\x1b[31mred\x1b[0m",
            "\u202egnp.exe",
            "\ud800",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "a" * 5000,
            "2999-01-01",
            "2024-02-30",
            "banana",
            "123-45-6789",
        ]
    ),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(node: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    for step in path[:-1]:
        node = node[step]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def _nested_extension(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for level in range(depth):
        node = {"url": f"http://example.org/e{level}", "extension": [node]}
    return node


@st.composite
def mutated_resource(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(skeletons())))
    res = skeletons()[kind]
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(res) if p[0] != "resourceType"]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "text"]))
        try:
            if action == "delete":
                _set(res, path, None, delete=True)
            elif action == "text":
                _set(res, path, draw(odd_text))
            else:
                _set(res, path, draw(json_value))
        except (KeyError, IndexError, TypeError):
            pass
    if draw(st.booleans()):
        res["extension"] = [_nested_extension(draw(st.sampled_from([1, 5, 30, 70, 150, 300])))]
    if draw(st.integers(0, 4)) == 0:
        res["resourceType"] = draw(st.sampled_from(["Bundel", "", "Patient ", "observation", kind]))
    return res


@st.composite
def hostile_bundle_text(draw: st.DrawFn) -> str:
    patient = skeletons()["Patient"]
    resources = [patient, *draw(st.lists(mutated_resource(), min_size=1, max_size=4))]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{i:08d}-0000-0000-0000-000000000000", "resource": r}
            for i, r in enumerate(resources)
        ],
    }
    text = json.dumps(bundle, ensure_ascii=draw(st.booleans()))
    numbers = list(re.finditer(r"(?<=: )-?\d+(\.\d+)?(?=[,}\]])", text))
    if draw(st.booleans()) and numbers:
        match = draw(st.sampled_from(numbers))
        literal = draw(
            st.sampled_from(
                [
                    "9" * 5000,
                    "1." + "3" * 5000,
                    "1e999",
                    "-1e999",
                    "NaN",
                    "Infinity",
                    "-Infinity",
                    "1e-99999999",
                    "0" * 400 + "1",
                ]
            )
        )
        text = text[: match.start()] + literal + text[match.end() :]
    keys = list(re.finditer(r'"(gender|status|value|code|id|type)": ("[^"]*"|[-\d.]+)', text))
    if draw(st.booleans()) and keys:
        match = draw(st.sampled_from(keys))
        text = text[: match.end()] + f', "{match.group(1)}": {match.group(2)}' + text[match.end() :]
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    if draw(st.integers(0, 8)) == 0:
        depth = draw(st.sampled_from([100, 1000, 20000]))
        text = text.replace('"entry": [', '"entry": [' + "[" * depth + "]" * depth + ", ", 1)
    return text


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(text=hostile_bundle_text(), lenient=st.booleans(), from_file=st.booleans())
def test_any_bundle_loads_or_fails_cleanly(text: str, lenient: bool, from_file: bool) -> None:
    data = text.encode("utf-8", "surrogatepass")
    try:
        if from_file:  # the CLI's path: a file on disk
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "fuzz.json"
                path.write_bytes(data)
                record = load_record(path, lenient=lenient)
        else:
            record = load_record(data, name="fuzz.json", lenient=lenient)
    except MedboardError as error:
        assert_clean(error)
        return
    assert record.resources
    for fact in record.facts:
        if isinstance(fact.value, float):
            assert math.isfinite(fact.value), f"{fact.id}: non-finite value accepted as a fact"


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(resource=mutated_resource())
def test_any_single_resource_loads_or_fails_cleanly(resource: dict[str, Any]) -> None:
    try:
        load_record(resource, name="resource.json")
    except MedboardError as error:
        assert_clean(error)
