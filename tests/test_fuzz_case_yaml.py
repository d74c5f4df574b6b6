"""Property: any case YAML loads or fails with one clean `MedboardError` line, and what loads is
true: dates are real calendar dates, every path stays inside the case folder.

Hypothesis writes case files from fields (ids, questions, dates valid and invalid, paths relative,
absolute, escaping, with NUL, wrong types, deep nesting) and from raw text mutations (bad bytes,
brackets, aliases, truncation). The record is a small Bundle of three real mCODE resources
(tests/data/fhir/verifier/brian), so each example costs milliseconds.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile.corpus import CHEST_PNG, JENNY_BUNDLE, TEST_DATA
from hostile.fuzz import assert_clean, bounded_memory  # noqa: F401  (fixture)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from medboard.errors import MedboardError
from medboard.orchestrator.case import load_case

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    # no 'explain' phase: re-running deep-recursion failures to explain them takes minutes
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

dates = st.one_of(
    st.dates().map(str),
    st.sampled_from(
        [
            "2024-02-30",
            "banana",
            "2024-13-01",
            "0000-01-01",
            "99999-12-31",
            "",
            "2024-1-1",
            "2024-02-29",
            "1e400",
            "2024-01-01T25:61:00",
            "today",
        ]
    ),
    st.integers(-(10**20), 10**20),
    st.lists(st.integers(0, 3000), max_size=3),
)
paths = st.one_of(
    st.sampled_from(
        [
            "bundle.json",
            "cxr.png",
            "./cxr.png",
            "sub/../cxr.png",
            "../outside/bundle.json",
            "../../../../etc/passwd",
            "/etc/passwd",
            "~/bundle.json",
            "cxr\x00.png",
            "",
            ".",
            "..",
            "link/cxr.png",
            "C:\\Windows\\win.ini",
            "%2e%2e/cxr.png",
            "\u202ecxr.png",
        ]
    ),
    st.text(max_size=30),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
nested = st.recursive(
    scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)),
    max_leaves=10,
)


@st.composite
def case_mapping(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"record": draw(st.one_of(paths, st.just("bundle.json")))}
    if draw(st.booleans()):
        spec["id"] = draw(st.one_of(st.text(max_size=20), scalars))
    if draw(st.booleans()):
        spec["question"] = draw(st.one_of(st.text(max_size=60), scalars))
    if draw(st.booleans()):
        spec["case_date"] = draw(dates)
    if draw(st.booleans()):
        images = []
        for _ in range(draw(st.integers(0, 3))):
            image: dict[str, Any] = {"path": draw(st.one_of(paths, st.just("cxr.png")))}
            for key, strategy in (
                ("date", dates),
                ("mask", paths),
                ("label", st.integers()),
                ("recipe", st.text(max_size=6)),
                ("modality", st.text(max_size=4)),
            ):
                if draw(st.booleans()):
                    image[key] = draw(strategy)
            images.append(image)
        spec["images"] = draw(st.one_of(st.just(images), nested))
    if draw(st.integers(0, 6)) == 0:
        spec[draw(st.text(max_size=8))] = draw(nested)
    return spec


@st.composite
def case_yaml_bytes(draw: st.DrawFn) -> bytes:
    text = yaml.safe_dump(draw(case_mapping()), allow_unicode=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "byte", "brackets", "alias", "truncate", "tab"]))
    if mutation == "byte":
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"\xed\xa0\x80", b"\x1b"]))
            + data[at:]
        )
    elif mutation == "brackets":
        depth = draw(st.sampled_from([10, 500, 10_000]))
        data += b"extra: " + b"[" * depth + b"]" * depth + b"\n"
    elif mutation == "alias":
        data += (
            b"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nimages: [*b, *b, *b]\n"
        )
    elif mutation == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "tab":
        data = b"\t" + data
    return data


@pytest.fixture(scope="module")
def base_case() -> Any:
    root = Path(tempfile.mkdtemp(prefix="medboard-fuzz-case-"))
    (root / "outside").mkdir()
    shutil.copy(JENNY_BUNDLE, root / "outside" / "bundle.json")
    brian = sorted((TEST_DATA / "fhir" / "verifier" / "brian").glob("*.json"))
    entries = [{"resource": json.loads(p.read_text(encoding="utf-8"))} for p in brian]
    (root / "bundle.json").write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8"
    )
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _fresh_case(root: Path, data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(dir=root))
    shutil.copy(root / "bundle.json", folder / "bundle.json")
    shutil.copy(CHEST_PNG, folder / "cxr.png")
    (folder / "link").symlink_to(root / "outside")
    (folder / "case.yaml").write_bytes(data)
    return folder


@pytest.mark.usefixtures("bounded_memory")
@SETTINGS
@given(data=case_yaml_bytes())
def test_any_case_yaml_loads_or_fails_cleanly(base_case: Path, data: bytes) -> None:
    folder = _fresh_case(base_case, data)
    try:
        case = load_case(folder)
    except MedboardError as error:
        assert_clean(error)
        return
    root = folder.resolve()
    for image in case.images:
        for key in ("path", "mask"):
            if image.get(key):
                resolved = Path(image[key]).resolve()
                assert resolved == root or root in resolved.parents, (
                    f"{key} {image[key]!r} escapes the case folder"
                )
    if case.case_date is not None:
        dt.date.fromisoformat(str(case.case_date)[:10])  # a real calendar date, or the load had to refuse
    for image in case.images:
        if image.get("date"):
            dt.date.fromisoformat(str(image["date"])[:10])
