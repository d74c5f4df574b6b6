"""The corpus registry: one builder per hostile input, grouped by family.

A builder is ``def build(tmp: Path) -> Invocation``: it writes its input under `tmp` (from the
repo's real data wherever possible) and says how the real CLI must be called and what counts as
correct. Register it with ``@hostile("family")``; its id is the function name with ``_`` → ``-``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "tests" / "data"
JENNY_DIR = REPO / "medboard" / "examples" / "jenny-m"
JENNY_BUNDLE = JENNY_DIR / "bundle.json"
IMAGING = TEST_DATA / "imaging"
BRAIN_IMAGE = IMAGING / "brain1_image.nrrd"
BRAIN_LABEL = IMAGING / "brain1_label.nrrd"
CHEST_PNG = IMAGING / "00000001_000.png"
TILE_JPG = IMAGING / "he_carcinoma_tile.jpg"

#: What an accepted-with-a-warning input must say (regex, case-insensitive). None of them may match
#: the output of a clean run (tests/test_hostile_cli.py checks that), or a flag would prove nothing.
#: "implausible" is no date flag: the summary lists a real record's implausible lab values as data
#: quality (Jenny M's own "Neutrophils 3000 10*3/uL"), so clean runs say it.
FLAGS: dict[str, str] = {
    "duplicate-key": r"duplicate|twice|more than once|repeated (json )?key",
    "future-date": r"future|after the case date|before birth|impossible|cannot be true",
    "before-birth": r"before (the patient's )?birth|impossible|cannot be true",
    # The error names the field and says what is wrong with it (clean summaries say "the case date").
    "case-date": r"case[_ ]date.{0,40}(not a valid|invalid|unparseable|cannot be read)",
    "image-date": r"(invalid|bad|not a valid|unparseable|cannot be read as a) (image )?date|"
    r"date.{0,40}(invalid|not valid|not a date|unparseable)",
    "bad-spacing": r"spacing.{0,80}(nan|inf|invalid|not finite)|"
    r"(nan|non-finite|not finite|invalid).{0,40}spacing",
    "nan-pixels": r"\bnan\b|not a number|non-finite|not finite",
    "not-a-mask": r"not (look like )?a (label )?mask|mask.{0,60}(label values|not binary|too many)",
    "degenerate-slices": (
        r"note:.{0,200}(same position|one position|share a position|duplicate|degenerate|coincid|identical)"
    ),
}

#: Exit codes (docs: 0 ok, 1 verify failed, 2 bad input, 3 model endpoint unusable).
OK, VERIFY_FAILED, BAD_INPUT, ENDPOINT = 0, 1, 2, 3


@dataclass
class Invocation:
    """How to run one hostile input, and what the correct behaviour is."""

    args: list[str]
    #: Allowed exit codes (more than one only where the issue allows "refuse or flag/handle").
    expect: tuple[int, ...]
    #: The --out folder: the only place that may change, and only when the run succeeds.
    out: Path | None = None
    #: User files inside --out that must survive byte-identical.
    protected: tuple[Path, ...] = ()
    #: Strings (credentials, identifiers) that must appear in no output at all.
    secrets: tuple[str, ...] = ()
    #: Regex: exit 0 is accepted only if some output (stdout, stderr, files in --out) matches it.
    flag: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    #: Run this many copies at once (concurrent runs to one --out).
    parallel: int = 1
    group_check: Callable[[list[int]], list[str]] | None = None
    #: (signal, send after seconds, must have ended within seconds after it).
    signal: tuple[int, float, float] | None = None
    #: Extra checks on the outcome: return a problem string or None.
    checks: list[Callable[[Any], str | None]] = field(default_factory=list)
    #: Something to keep alive while the child runs (a fake model server); closed afterwards.
    resource: Any = None
    slow: bool = False


Builder = Callable[[Path], Invocation]


@dataclass(frozen=True)
class Item:
    id: str
    family: str
    build: Builder
    slow: bool = False


CORPUS: dict[str, Item] = {}


def hostile(family: str, *, slow: bool = False) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        item_id = build.__name__.replace("_", "-")
        assert item_id not in CORPUS, f"duplicate corpus id {item_id}"
        CORPUS[item_id] = Item(item_id, family, build, slow)
        return build

    return register


# --- shared building blocks -------------------------------------------------------------------


def jenny() -> dict[str, Any]:
    """The real mCODE 'Jenny M' bundle, parsed (a fresh copy)."""
    return json.loads(JENNY_BUNDLE.read_text(encoding="utf-8"))


def resource(bundle: dict[str, Any], type_: str, id_: str | None = None) -> dict[str, Any]:
    """The first entry resource of `type_` (and `id_`) in `bundle`."""
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == type_ and (id_ is None or res.get("id") == id_):
            return res
    raise KeyError(f"{type_}/{id_}")


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def splice(bundle_text: str, marker: str, replacement: str) -> str:
    """Replace the first `marker` in serialized JSON (for JSON no `json.dumps` can write)."""
    assert marker in bundle_text, marker
    return bundle_text.replace(marker, replacement, 1)


def jenny_text() -> str:
    """Jenny as compact JSON text (one `"key": value` pair per member, stable for `splice`)."""
    return json.dumps(jenny(), separators=(", ", ": "))


def case_folder(tmp: Path, yaml_text: str | None = None, *, bundle: dict[str, Any] | None = None) -> Path:
    """`tmp/case/` with bundle.json (Jenny unless given) and case.yaml (default: record + question)."""
    folder = tmp / "case"
    folder.mkdir(parents=True, exist_ok=True)
    if bundle is None:
        shutil.copy(JENNY_BUNDLE, folder / "bundle.json")
    else:
        write_json(folder / "bundle.json", bundle)
    text = (
        yaml_text
        if yaml_text is not None
        else (
            "id: jenny-m\nrecord: bundle.json\nquestion: Is she a candidate for breast-conserving surgery?\n"
        )
    )
    write_text(folder / "case.yaml", text)
    return folder


def run_args(case: Path | str, out: Path | None = None, *extra: str) -> list[str]:
    args = ["run", str(case), "--model", "none"]
    if out is not None:
        args += ["--out", str(out)]
    return [*args, *extra]


def protect_tree(*roots: Path) -> tuple[Path, ...]:
    """Every path under `roots` (and the roots), for `Invocation.protected`."""
    paths: list[Path] = []
    for root in roots:
        paths.append(root)
        if root.is_dir():
            paths.extend(sorted(root.rglob("*")))
    return tuple(paths)


def summary_json_valid(out: Path) -> Callable[[Any], str | None]:
    """Check: after exit 0, `out/summary.json` is a complete CaseSummary JSON document."""

    def check(outcome: Any) -> str | None:
        if outcome.returncode != 0:
            return None
        path = out / "summary.json"
        if not path.is_file():
            return f"exit 0 but {path} is missing"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            return f"exit 0 but {path} is not complete JSON ({error})"
        if not isinstance(data, dict) or "sections" not in data:
            return f"exit 0 but {path} is not a CaseSummary"
        return None

    return check
