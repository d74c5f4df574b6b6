"""Hypothesis over FHIR: real resources mutated (elements deleted, wrong types, odd unicode ids,
self references, contained cycles, huge arrays) never escape as a traceback.

Every load ends either with a record or with one `MedboardInputError` line; in lenient mode a bad
entry is skipped and listed, never fatal for the other entries.
``MEDBOARD_FUZZ_EXAMPLES=2000`` runs a longer search.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medboard.errors import MedboardInputError
from medboard.tools.fhir import load_record

GOOD = Path(__file__).parent / "data" / "fhir"
SEED_FILES = [*sorted((GOOD / "mcode").glob("*.json"))[:12], GOOD / "notes_bundle.json"]


def _seed_resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in SEED_FILES:
        data = json.loads(path.read_text())
        if data.get("resourceType") == "Bundle":
            out.extend(e["resource"] for e in data.get("entry", []) if isinstance(e.get("resource"), dict))
        else:
            out.append(data)
    return out


SEEDS = _seed_resources()
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just("Patient/" + "é" * 5),
    st.just({"reference": "#self"}),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


@st.composite
def mutated_resource(draw: st.DrawFn) -> dict[str, Any]:
    resource = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    paths = _paths(resource)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        try:
            _set(resource, path, copy.deepcopy(draw(ODD_VALUES)), draw(st.booleans()))
        except (KeyError, IndexError, TypeError):
            continue
        paths = _paths(resource)
    kind = draw(st.sampled_from(["none", "self", "contained-cycle", "unicode-id", "huge-array"]))
    rid = resource.get("id") if isinstance(resource.get("id"), str) else "x"
    if kind == "self":
        resource["subject"] = {"reference": f"{resource.get('resourceType')}/{rid}"}
    elif kind == "contained-cycle":
        resource["contained"] = [
            {
                "resourceType": "Observation",
                "id": "a",
                "status": "final",
                "code": {"text": "a"},
                "hasMember": [{"reference": "#b"}],
            },
            {
                "resourceType": "Observation",
                "id": "b",
                "status": "final",
                "code": {"text": "b"},
                "hasMember": [{"reference": "#a"}],
            },
        ]
    elif kind == "unicode-id":
        resource["id"] = draw(st.text(min_size=1, max_size=8))
    elif kind == "huge-array":
        resource["identifier"] = [{"value": str(i)} for i in range(5000)]
    return resource


@settings(
    max_examples=int(os.environ.get("MEDBOARD_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(mutated_resource(), min_size=1, max_size=4), st.booleans())
def test_mutated_resources_never_traceback(resources: list[dict[str, Any]], lenient: bool) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    data = json.dumps(bundle).encode()
    try:
        record = load_record(data, name="fuzz.json", lenient=lenient)
    except MedboardInputError as error:
        message = str(error)
        assert message.startswith("fuzz.json") and "\n" not in message
        return
    assert record.resources
    for skipped in record.skipped:
        assert "\n" not in skipped.problem
